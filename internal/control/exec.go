package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// ExecIO connects a command's standard streams. Nil writers discard output; a
// nil Stdin gives the command /dev/null.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// OnStart, if set, is called with the guest pid once the command runs.
	OnStart func(pid int)
	// TTY, if set, runs the command on a guest pseudo-terminal: Stdin is
	// its keyboard, Stdout receives the terminal's output (stderr included,
	// as on any terminal).
	TTY *TTY
}

// TTY is the terminal of a command run on one.
type TTY struct {
	Size wire.WindowSize
	Term string // the guest's TERM
	// Resize delivers later window sizes until it is closed or the command
	// ends; nil: the size never changes.
	Resize <-chan wire.WindowSize
}

// killGrace is how long a cancelled command gets between SIGTERM and SIGKILL,
// and how long the host then waits for the guest's exit report.
const killGrace = 2 * time.Second

// Exec runs a command in the guest and streams its output as it is produced.
// When ctx ends, the command's process group is signalled (TERM, then KILL)
// and Exec returns ctx's error together with whatever exit was reported.
func (c *Client) Exec(ctx context.Context, req wire.ExecRequest, sio ExecIO) (wire.ExecExit, error) {
	st, err := c.sess.OpenStream()
	if err != nil {
		return wire.ExecExit{}, ctxErr(ctx, err)
	}
	defer st.Close()
	req.Stdin = sio.Stdin != nil
	if sio.TTY != nil {
		err = wire.WriteJSON(st, wire.TPty, wire.PtyRequest{Exec: req, Size: sio.TTY.Size, Term: sio.TTY.Term})
	} else {
		err = wire.WriteJSON(st, wire.TExec, req)
	}
	if err != nil {
		return wire.ExecExit{}, ctxErr(ctx, err)
	}
	if sio.TTY != nil && sio.TTY.Resize != nil {
		done := make(chan struct{})
		resized := make(chan struct{})
		go func() {
			defer close(resized)
			forwardResize(st, sio.TTY.Resize, done)
		}()
		defer func() { close(done); <-resized }()
	}

	// Cancellation: ask the guest to kill the process group, then give up on
	// the stream if the guest does not answer in time.
	cancelDone := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelDone)
		_ = wire.WriteJSON(st, wire.TSignal, wire.Signal{Signal: int(syscall.SIGTERM)})
		t := time.NewTimer(killGrace)
		defer t.Stop()
		select {
		case <-t.C:
			_ = wire.WriteJSON(st, wire.TSignal, wire.Signal{Signal: int(syscall.SIGKILL)})
		case <-c.sess.CloseChan():
			return
		}
		t.Reset(killGrace)
		<-t.C
		abort(st)
	})
	defer stop()

	if sio.Stdin != nil {
		// Not waited for: a Read on a terminal cannot be interrupted. Once the
		// stream is closed below, its next write fails and it returns.
		go sendStdin(st, sio.Stdin)
	}
	exit, err := readExec(st, sio)
	st.Close()
	if ctx.Err() != nil {
		return exit, context.Cause(ctx)
	}
	return exit, err
}

// forwardResize sends each new window size until sizes is closed or done.
func forwardResize(w io.Writer, sizes <-chan wire.WindowSize, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case ws, ok := <-sizes:
			if !ok || wire.WriteJSON(w, wire.TResize, ws) != nil {
				return
			}
		}
	}
}

func sendStdin(w io.Writer, r io.Reader) {
	buf := make([]byte, wire.ChunkSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if wire.WriteFrame(w, wire.TStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			_ = wire.WriteFrame(w, wire.TStdinClose, nil)
			return
		}
	}
}

func readExec(st io.Reader, sio ExecIO) (wire.ExecExit, error) {
	r := wire.NewReader(st, 0)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: the guest ended the exec stream without an exit status", ErrClosed)
			}
			return wire.ExecExit{}, err
		}
		switch f.Type {
		case wire.TExecStart:
			var s wire.ExecStarted
			if err := f.Decode(&s); err != nil {
				return wire.ExecExit{}, err
			}
			if sio.OnStart != nil {
				sio.OnStart(s.PID)
			}
		case wire.TStdout:
			write(sio.Stdout, f.Payload)
		case wire.TStderr:
			write(sio.Stderr, f.Payload)
		case wire.TExecExit:
			var x wire.ExecExit
			return x, f.Decode(&x)
		case wire.TError:
			var e wire.Error
			if err := f.Decode(&e); err != nil {
				return wire.ExecExit{}, err
			}
			return wire.ExecExit{}, &e
		default:
			return wire.ExecExit{}, fmt.Errorf("exec: unexpected %s frame from guest", f.Type)
		}
	}
}

func write(w io.Writer, p []byte) {
	if w != nil {
		_, _ = w.Write(p)
	}
}
