package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/runspec"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/tui"
)

func newTUICmd(e *env) *cobra.Command {
	var f runFlags
	var replay string
	c := &cobra.Command{
		Use:   "tui (--file SPEC | --replay EVENTS)",
		Short: "Run a spec in the live panel view, or replay a recorded event stream in it",
		Long: `The panel view of a run: the stage graph with live status, attempts and timers, the
selected stage's output and agent activity (turns, tool calls, denials), tokens and cost,
and each VM's memory and CPU as the host measures them.

  voidbox tui --file SPEC     is voidbox run --tui --file SPEC
  voidbox tui --replay FILE   shows a stream recorded with voidbox run --events FILE

Keys: ↑/↓ (j/k, tab) select a stage · pgup/pgdn scroll its output · f follow the output ·
o or enter open the stage's whole output · c cancel the run (asks first) · q quit.

Without a terminal (or with NO_COLOR set, or TERM=dumb) the run shows the plain
progress of voidbox run instead.`,
		Example: `  voidbox tui --file examples/fanout.yaml
  voidbox run --file examples/fanout.yaml --events run.jsonl && voidbox tui --replay run.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if replay != "" {
				if f.file != "" {
					return usageError{errors.New("--replay and --file: give one")}
				}
				return replayEvents(cmd.Context(), e, replay)
			}
			f.tui = true
			return runSpec(cmd.Context(), e, f)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "spec file (YAML or JSON) to run")
	fl.StringVar(&replay, "replay", "", "show a recorded event stream (JSON lines) instead of running")
	fl.StringVar(&f.input, "input", "", "input for the first stage: text, @FILE, or @- for stdin")
	fl.StringVarP(&f.output, "output", "o", "text", "report format after the view closes: text or json")
	fl.StringVar(&f.events, "events", "", "also write the event stream to FILE as JSON lines")
	fl.StringVar(&f.accel, "accel", "", "accelerator: kvm, tcg or auto")
	f.progress = "auto"
	return c
}

// terminalFor says whether the panel view can run: keys come from stdin
// and the view is drawn on stderr (where progress goes), both terminals,
// and the user has not asked for plain text. It returns why not.
func terminalFor(e *env) (in, out *os.File, why string) {
	in, okIn := e.stdin.(*os.File)
	out, okOut := e.stderr.(*os.File)
	switch {
	case os.Getenv("NO_COLOR") != "":
		return nil, nil, "NO_COLOR is set"
	case os.Getenv("TERM") == "dumb" || os.Getenv("TERM") == "":
		return nil, nil, "TERM is " + fmt.Sprintf("%q", os.Getenv("TERM"))
	case !okIn || !term.IsTerminal(int(in.Fd())):
		return nil, nil, "standard input is not a terminal"
	case !okOut || !term.IsTerminal(int(out.Fd())):
		return nil, nil, "standard error is not a terminal"
	}
	return in, out, ""
}

// errQuit cancels a run whose view the user closed.
var errQuit = errors.New("cancelled from the panel view")

// runInTUI runs job with the panel view on the terminal and returns when
// both the run and the view have ended. The view stays after the run
// finished, until the user quits; quitting earlier (confirmed) cancels the
// run, whose VMs are all stopped before this returns.
func runInTUI(ctx context.Context, e *env, in, out *os.File, job runspec.Job, o voidbox.RunOptions) (*voidbox.Report, error) {
	// Set-up prints progress of its own: do it before the view takes the
	// terminal.
	if _, err := setup.Lookup(ctx, setup.Options{Agent: true}); err != nil {
		if _, err := voidbox.Setup(ctx, voidbox.SetupOptions{Agent: true, Progress: e.stderr}); err != nil {
			return nil, fmt.Errorf("setting up this host: %w", err)
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	feed := tui.NewFeed()
	o.Events = append(asSinks(o.Events), feed)
	type result struct {
		rep *voidbox.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := job.Run(runCtx, o)
		feed.Close()
		done <- result{rep, err}
	}()
	viewErr := tui.Run(ctx, feed, in, out, tui.Options{Cancel: func() { cancel(errQuit) }})
	cancel(errQuit) // a view that ended on its own (error, signal) ends the run too
	res := <-done
	if viewErr != nil {
		fmt.Fprintf(e.stderr, "voidbox: panel view: %v\n", viewErr)
	}
	return res.rep, res.err
}

func asSinks(s voidbox.EventSink) event.Sinks {
	switch s := s.(type) {
	case nil:
		return nil
	case event.Sinks:
		return s
	}
	return event.Sinks{s}
}

// replayEvents shows a recorded stream in the panel view: the same view,
// fed through event.Decode as a remote stream would be.
func replayEvents(ctx context.Context, e *env, path string) error {
	in, out, why := terminalFor(e)
	if why != "" {
		return usageError{fmt.Errorf("--replay shows the panel view, which needs a terminal: %s", why)}
	}
	f, err := os.Open(path)
	if err != nil {
		return usageError{fmt.Errorf("--replay: %w", err)}
	}
	src := tui.NewStream(f)
	defer src.Close()
	return tui.Run(ctx, src, in, out, tui.Options{})
}
