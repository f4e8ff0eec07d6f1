package vmm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpQuit asks QEMU to exit through its QMP socket (QEMU Machine Protocol,
// docs/interop/qmp-spec.rst): read the greeting, negotiate capabilities, send
// "quit". A clean exit flushes the console log; SIGKILL is the fallback.
func qmpQuit(sock string, timeout time.Duration) error {
	c, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := readQMP(r, &greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("qmp greeting: %v", err)
	}
	for _, cmd := range []string{"qmp_capabilities", "quit"} {
		if _, err := fmt.Fprintf(c, `{"execute":%q}`+"\n", cmd); err != nil {
			return err
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if err := readQMP(r, &resp); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("qmp %s: %s", cmd, resp.Error.Desc)
		}
	}
	return nil
}

// readQMP reads the next reply, skipping asynchronous events. Lines are
// bounded: QMP replies to these commands are tiny.
func readQMP(r *bufio.Reader, v any) error {
	for i := 0; i < 16; i++ {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		var probe struct {
			Event string `json:"event"`
		}
		if json.Unmarshal(line, &probe) == nil && probe.Event != "" {
			continue
		}
		return json.Unmarshal(line, v)
	}
	return fmt.Errorf("no reply among 16 events")
}
