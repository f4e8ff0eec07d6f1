package guestinit

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// openControlPort finds the virtio-serial port by its name in sysfs (there is
// no udev to create /dev/virtio-ports links) and opens its device node.
// virtio-serial ports can be opened once, so no other process in the guest can
// open the control port while the init holds it.
func openControlPort(name string) (*portConn, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "name"))
			if err != nil || strings.TrimSpace(string(b)) != name {
				continue
			}
			f, err := os.OpenFile("/dev/"+filepath.Base(d), os.O_RDWR, 0)
			if err != nil {
				return nil, err
			}
			return &portConn{f: f}, nil
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

// portConn is the control port. A virtio-serial read returns 0 bytes (EOF)
// while the host side is not connected, and the guest can open the port
// before QEMU's "host connected" notice arrives, so until the host has
// spoken, EOF means "not yet" and the read is retried. Once the handshake
// started, EOF means the host went away.
type portConn struct {
	f     *os.File
	spoke bool // the host has sent data; guarded by being used by one reader
}

// hostWait bounds how long the init waits for the host to connect.
const hostWait = 60 * time.Second

func (p *portConn) Read(b []byte) (int, error) {
	deadline := time.Now().Add(hostWait)
	for {
		n, err := p.f.Read(b)
		if n > 0 {
			p.spoke = true
			return n, err
		}
		if err != io.EOF || p.spoke || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *portConn) Write(b []byte) (int, error) { return p.f.Write(b) }
func (p *portConn) Close() error                { return p.f.Close() }
