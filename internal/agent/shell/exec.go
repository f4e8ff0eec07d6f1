package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// exec runs one external command: policy first, then the process in its own
// process group, which is killed when the command ends or ctx does.
func (x *executor) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	if reason := x.policy.checkName(args[0]); reason != "" {
		return x.deny(hc, args, reason)
	}
	path, err := interp.LookPathDir(hc.Dir, hc.Env, args[0])
	if err != nil {
		fmt.Fprintln(hc.Stderr, err)
		return interp.ExitStatus(127)
	}
	path, reason := x.policy.program(path)
	if reason != "" {
		return x.deny(hc, args, reason)
	}
	if x.policy.Restricted() {
		for _, prog := range spawned(args) {
			if reason := x.policy.checkName(prog); reason != "" {
				return x.deny(hc, args, "it would run "+reason)
			}
			if p, err := interp.LookPathDir(hc.Dir, hc.Env, prog); err == nil {
				if _, reason := x.policy.program(p); reason != "" {
					return x.deny(hc, args, "it would run "+reason)
				}
			}
		}
	}
	return run(ctx, hc, path, args, x.policy.Restricted())
}

// run starts path and waits for it.
// With an allowlist, the dynamic loader's variables are dropped: an allowed
// dynamically linked program must not load code the agent wrote.
func run(ctx context.Context, hc interp.HandlerContext, path string, args []string, restricted bool) error {
	stdout, closeOut, err := asFile(hc.Stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	stderr, closeErr, err := asFile(hc.Stderr)
	if err != nil {
		return err
	}
	defer closeErr()

	cmd := exec.Command(path)
	cmd.Args = args
	cmd.Env = environ(hc.Env, restricted)
	cmd.Dir = hc.Dir
	cmd.Stdin = hc.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	setGroup(cmd)
	err = cmd.Start()
	// A file just written by another goroutine's child may still be open
	// for writing during a concurrent fork (golang.org/issue/22315).
	for delay := time.Millisecond; errors.Is(err, syscall.ETXTBSY) && delay < 300*time.Millisecond; delay *= 2 {
		time.Sleep(delay)
		cmd = cloneCmd(cmd)
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(hc.Stderr, "%s: %v\n", args[0], err)
		if errors.Is(err, syscall.ENOENT) {
			return interp.ExitStatus(127)
		}
		return interp.ExitStatus(126)
	}
	stop := context.AfterFunc(ctx, func() { killGroup(cmd) })
	err = cmd.Wait()
	stop()
	killGroup(cmd) // whatever the command left running in its group
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return interp.ExitStatus(128 + uint8(ws.Signal()))
		}
		return interp.ExitStatus(uint8(exitErr.ExitCode()))
	default:
		return err
	}
}

func cloneCmd(c *exec.Cmd) *exec.Cmd {
	n := exec.Command(c.Path)
	n.Args, n.Env, n.Dir = c.Args, c.Env, c.Dir
	n.Stdin, n.Stdout, n.Stderr = c.Stdin, c.Stdout, c.Stderr
	n.SysProcAttr = c.SysProcAttr
	return n
}

// asFile returns w as a file a child can write to directly. For a writer
// that is not a file (command substitution captures into memory), it makes
// a pipe and copies; the returned func closes the write end and waits for
// the copy, at most drainTimeout.
func asFile(w io.Writer) (*os.File, func(), error) {
	if f, ok := w.(*os.File); ok {
		return f, func() {}, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(w, pr)
	}()
	return pw, func() {
		pw.Close()
		select {
		case <-done:
		case <-time.After(drainTimeout):
		}
		pr.Close()
		<-done
	}, nil
}

// environ lists the exported variables of env for a child process, without
// LD_* when dropLoader is set.
func environ(env expand.Environ, dropLoader bool) []string {
	var list []string
	env.Each(func(name string, vr expand.Variable) bool {
		if dropLoader && strings.HasPrefix(name, "LD_") {
			return true
		}
		if vr.Exported && vr.IsSet() && vr.Kind == expand.String {
			list = append(list, name+"="+vr.String())
		}
		return true
	})
	return list
}
