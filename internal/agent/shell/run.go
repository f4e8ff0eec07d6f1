package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// DefaultOutputLimit is how much combined output a Run keeps by default.
const DefaultOutputLimit = 32 << 10

// drainTimeout bounds how long Run waits for output after the script ended;
// only a process that escaped its process group (setsid) can hold it open.
const drainTimeout = 2 * time.Second

// Options configure one Run.
type Options struct {
	Dir    string   // working directory
	Env    []string // environment as KEY=VALUE
	Policy *Policy  // nil allows every command
	// OutputLimit caps the combined stdout and stderr kept (head and tail);
	// DefaultOutputLimit when zero.
	OutputLimit int
	// OnDenied, if set, is called for each refused command as it happens.
	OnDenied func(Denial)
}

// Result is the outcome of a script.
type Result struct {
	// Output is stdout and stderr interleaved as written, capped.
	Output string
	// Omitted counts the bytes cut from the middle of Output.
	Omitted int64
	// ExitCode is the script's exit status, -1 when it was stopped by ctx.
	ExitCode int
	// Denials lists the commands the policy refused, in order.
	Denials []Denial
	// TimedOut and Canceled say why ctx stopped the script.
	TimedOut, Canceled bool
}

// Run interprets script and runs its external commands under opts.Policy.
// Script-level failures (syntax errors, non-zero exits, refused commands,
// ctx ending) are reported in the Result; the error is for setup problems.
func Run(ctx context.Context, script string, opts Options) (Result, error) {
	file, err := syntax.NewParser().Parse(strings.NewReader(script), "")
	if err != nil {
		return Result{Output: err.Error() + "\n", ExitCode: 2}, nil
	}
	limit := opts.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	out := newCapped(limit)
	// One pipe for stdout and stderr: commands write to it directly, so
	// their output interleaves as on a terminal and no per-command copying
	// goroutine can block a command's Wait.
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("creating output pipe: %w", err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		pr.Close()
		pw.Close()
		return Result{}, fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()

	x := &executor{policy: opts.Policy, onDenied: opts.OnDenied}
	runner, err := interp.New(
		interp.Dir(opts.Dir),
		interp.Env(expand.ListEnviron(opts.Env...)),
		interp.StdIO(devnull, pw, pw),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return x.exec }),
	)
	var runErr error
	if err == nil {
		runErr = runner.Run(ctx, file)
	}
	pw.Close()
	select {
	case <-copied:
	case <-time.After(drainTimeout):
	}
	pr.Close()
	<-copied
	if err != nil {
		return Result{}, fmt.Errorf("starting interpreter: %w", err)
	}

	res := Result{Denials: x.denials()}
	res.Output, res.Omitted = out.result()
	var exit interp.ExitStatus
	isStatus := errors.As(runErr, &exit)
	status := uint8(exit)
	switch {
	case ctx.Err() != nil:
		// Stopped by ctx, however the interpreter reported it (a killed
		// background job can let `wait` return 0).
		res.ExitCode = -1
		res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		res.Canceled = !res.TimedOut
	case runErr == nil:
	case isStatus:
		res.ExitCode = int(status)
	default:
		res.ExitCode = 1
		res.Output += runErr.Error() + "\n"
	}
	return res, nil
}

// executor is the interpreter's exec handler: it applies the policy and
// starts the command.
type executor struct {
	policy   *Policy
	onDenied func(Denial)

	mu     sync.Mutex
	denied []Denial // guarded by mu: subshells run concurrently
}

func (x *executor) deny(hc interp.HandlerContext, args []string, reason string) error {
	d := Denial{Command: quoteArgs(args), Reason: reason}
	x.mu.Lock()
	x.denied = append(x.denied, d)
	x.mu.Unlock()
	if x.onDenied != nil {
		x.onDenied(d)
	}
	fmt.Fprintf(hc.Stderr, "%s: denied by policy: %s\n", args[0], reason)
	return interp.ExitStatus(126)
}

func (x *executor) denials() []Denial {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Denial(nil), x.denied...)
}

// quoteArgs renders argv for a log line, quoting words that need it.
func quoteArgs(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		q, err := syntax.Quote(a, syntax.LangBash)
		if err != nil {
			q = fmt.Sprintf("%q", a)
		}
		parts[i] = q
	}
	return strings.Join(parts, " ")
}
