package vmm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// qmpConn is a QMP session (docs/interop/qmp-spec.rst) for the commands of
// a snapshot: one command at a time, replies read in order.
type qmpConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialQMP connects to sock and negotiates capabilities. ctx bounds every
// command of the session.
func dialQMP(ctx context.Context, sock string) (*qmpConn, error) {
	// QEMU creates the QMP socket after it connected the control
	// channel's chardev, so the socket may not be there yet.
	var d net.Dialer
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err = d.DialContext(ctx, "unix", sock); err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("qmp: %w", err)
		}
		time.Sleep(poll)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	q := &qmpConn{c: c, r: bufio.NewReader(c)}
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := readQMP(q.r, &greeting); err != nil || greeting.QMP == nil {
		c.Close()
		return nil, fmt.Errorf("qmp greeting: %v", err)
	}
	if _, err := q.run("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmpConn) Close() error { return q.c.Close() }

// run executes cmd with args (nil for none) and returns its "return".
func (q *qmpConn) run(cmd string, args any) (json.RawMessage, error) {
	return q.runWith(cmd, args, nil)
}

// sendFD hands f to QEMU under name (getfd, the descriptor passed with
// SCM_RIGHTS alongside the command), for a command naming "fd:name".
func (q *qmpConn) sendFD(name string, f *os.File) error {
	_, err := q.runWith("getfd", map[string]any{"fdname": name}, syscall.UnixRights(int(f.Fd())))
	return err
}

// runWith is run, the command sent with the ancillary data oob.
func (q *qmpConn) runWith(cmd string, args any, oob []byte) (json.RawMessage, error) {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if oob == nil {
		_, err = q.c.Write(b)
	} else if uc, ok := q.c.(*net.UnixConn); ok {
		_, _, err = uc.WriteMsgUnix(b, oob, nil)
	} else {
		err = errors.New("passing a descriptor needs a unix socket")
	}
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	var resp struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := readQMP(q.r, &resp); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("qmp %s: %s", cmd, resp.Error.Desc)
	}
	return resp.Return, nil
}

// status is the VM's run state ("running", "paused", "inmigrate", …).
func (q *qmpConn) status() (string, error) {
	b, err := q.run("query-status", nil)
	if err != nil {
		return "", err
	}
	var s struct {
		Status string `json:"status"`
	}
	return s.Status, json.Unmarshal(b, &s)
}

// migration is query-migrate's state of the outgoing migration.
func (q *qmpConn) migration() (status, errDesc string, err error) {
	b, err := q.run("query-migrate", nil)
	if err != nil {
		return "", "", err
	}
	var m struct {
		Status string `json:"status"`
		Error  string `json:"error-desc"`
	}
	return m.Status, m.Error, json.Unmarshal(b, &m)
}

// poll is how often a snapshot's save or load is checked on: both take
// milliseconds (measured: save 15 ms of device state under TCG).
const poll = 2 * time.Millisecond
