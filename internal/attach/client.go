package attach

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/wire"
)

// ErrNotFound reports no running VM of that run and stage.
var ErrNotFound = errors.New("no running stage to attach to")

// Target is an attachable VM found on this host.
type Target struct {
	Info
	Dir string // its runtime directory
}

// Socket is the target's attach socket.
func (t Target) Socket() string { return filepath.Join(t.Dir, SocketName) }

// List finds the attachable VMs in the runtime directories under parents
// (vmm's runtime parents), oldest first; VMs whose owner is gone are not.
func List(parents []string) []Target {
	var out []Target
	for _, p := range parents {
		dirs, _ := filepath.Glob(filepath.Join(p, "vm-*"))
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, InfoName))
			if err != nil || len(b) > maxLine {
				continue
			}
			var info Info
			if json.Unmarshal(b, &info) != nil || info.OwnerPID <= 0 || syscall.Kill(info.OwnerPID, 0) == syscall.ESRCH {
				continue
			}
			out = append(out, Target{Info: info, Dir: d})
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return a.Started.Compare(b.Started) })
	return out
}

// Find returns the newest attempt of run's stage among targets.
func Find(targets []Target, run, stage string) (Target, error) {
	for i := len(targets) - 1; i >= 0; i-- {
		if t := targets[i]; t.Run == run && t.Stage == stage {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("%w: %s/%s", ErrNotFound, run, stage)
}

// dial connects, sends req and reads the reply.
func dial(ctx context.Context, t Target, req Request) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", t.Socket())
	if err != nil {
		return nil, nil, err
	}
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(c, event.MaxLine+1024)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := br.ReadSlice('\n')
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("reading the reply: %w", err)
	}
	var r Reply
	if err := json.Unmarshal(line, &r); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("malformed reply: %v", err)
	}
	if !r.OK {
		c.Close()
		return nil, nil, errors.New(r.Error)
	}
	return c, br, nil
}

// Follow calls fn with each event of the target's attempt, the history
// first, until the attempt ends (nil) or ctx does. Events are decoded with
// event.Decode: they carry guest text.
func Follow(ctx context.Context, t Target, fn func(event.Event)) error {
	c, br, err := dial(ctx, t, Request{Mode: ModeFollow})
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if ev, err := event.Decode(line); err == nil {
			fn(ev)
		}
	}
}

// Shell opens the attach shell of the target on a terminal of the given
// size and relays keys, sizes and output until the shell exits. It
// returns how the shell ended.
func Shell(ctx context.Context, t Target, keys io.Reader, out io.Writer, tty sandbox.TTY) (*sandbox.Result, error) {
	c, br, err := dial(ctx, t, Request{Mode: ModeShell, Rows: tty.Rows, Cols: tty.Cols, Term: tty.Term})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	done := make(chan struct{})
	defer close(done)
	if tty.Resize != nil {
		go func() { // ends with done or the connection
			for {
				select {
				case <-done:
					return
				case ws, ok := <-tty.Resize:
					if !ok || wire.WriteJSON(c, wire.TResize, ws) != nil {
						return
					}
				}
			}
		}()
	}
	// Not waited for, like exec's stdin: a Read on a terminal cannot be
	// interrupted; its next write fails once the connection is closed.
	go func() {
		buf := make([]byte, wire.ChunkSize)
		for {
			n, err := keys.Read(buf)
			if n > 0 && wire.WriteFrame(c, wire.TStdin, buf[:n]) != nil {
				return
			}
			if err != nil {
				return
			}
		}
	}()
	r := wire.NewReader(br, 0)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("the attach shell ended without an exit status (the stage's attempt may have ended): %w", err)
		}
		switch f.Type {
		case wire.TStdout:
			out.Write(f.Payload)
		case wire.TExecExit:
			var x wire.ExecExit
			if err := f.Decode(&x); err != nil {
				return nil, err
			}
			if x.Error != "" && x.ExitCode == 255 {
				return nil, errors.New(x.Error)
			}
			return &sandbox.Result{ExitCode: x.ExitCode, Signal: x.Signal, TimedOut: x.TimedOut, Error: x.Error}, nil
		default:
			return nil, fmt.Errorf("unexpected %s frame", f.Type)
		}
	}
}

// String names the target as attach takes it: RUN/STAGE (attempt N).
func (t Target) String() string {
	return t.Run + "/" + t.Stage + " (attempt " + strconv.Itoa(t.Attempt) + ")"
}
