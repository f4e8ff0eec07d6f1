package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/voidbox/voidbox/internal/event"
)

// Exit codes of Main.
const (
	ExitOK         = 0
	ExitFailed     = 1   // the run failed: provider error, max_turns, MCP server, …
	ExitUsage      = 2   // bad flags or config
	exitSignalBase = 128 // + the signal number, as a shell reports it
)

// signalError is the cancel cause when a signal stops the agent.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "stopped by signal " + e.sig.String() }

// Main runs the agent as a command: `agent --config FILE [--events-fd N]`.
// Events go to stdout as JSON lines, or to file descriptor N. stderr gets
// a one-line error when the run fails. SIGTERM and SIGINT stop the run
// cleanly (tools killed, MCP servers closed, agent.finished emitted) and
// exit with 128+signal.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "path of the agent config JSON (required)")
	eventsFD := fs.Int("events-fd", -1, "write events to this file descriptor instead of stdout")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: agent --config FILE [--events-fd N]")
		return ExitUsage
	}
	events := stdout
	if *eventsFD >= 0 {
		f := os.NewFile(uintptr(*eventsFD), "events")
		if f == nil {
			fmt.Fprintf(stderr, "agent: --events-fd %d: not a valid descriptor\n", *eventsFD)
			return ExitUsage
		}
		defer f.Close()
		events = f
	}
	ev := event.NewWriter(events)
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		ev.Send(event.AgentFinished{Error: err.Error()})
		fmt.Fprintln(stderr, "agent:", err)
		return ExitUsage
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := onSignals(ctx, cancel)
	defer stop()

	_, err = Run(ctx, cfg, ev)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "agent:", err)
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		if s, ok := se.sig.(syscall.Signal); ok {
			return exitSignalBase + int(s)
		}
	}
	if errors.Is(err, ErrInvalidConfig) {
		return ExitUsage
	}
	return ExitFailed
}

// onSignals cancels ctx with a signalError on SIGTERM or SIGINT until the
// returned stop is called; stop waits for the watcher goroutine.
func onSignals(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case sig := <-ch:
			cancel(signalError{sig})
		case <-done:
		case <-ctx.Done():
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
		<-exited
	}
}
