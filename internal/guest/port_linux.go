package guest

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// openControlPort finds the virtio-serial port by its name in sysfs (there is
// no udev to create /dev/virtio-ports links) and opens its device node.
// virtio-serial ports can be opened once, so no other process in the guest can
// open the control port while the agent holds it.
func openControlPort(name string) (*os.File, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "name"))
			if err != nil || strings.TrimSpace(string(b)) != name {
				continue
			}
			return os.OpenFile("/dev/"+filepath.Base(d), os.O_RDWR, 0)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no virtio-serial port named %q (is virtio_console loaded?)", name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readSecret reads the per-VM secret the host passed as a QEMU fw_cfg file.
// The sysfs file is readable by root only, unlike /proc/cmdline.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(s) < 16 {
		return nil, fmt.Errorf("malformed secret in %s", path)
	}
	return s, nil
}
