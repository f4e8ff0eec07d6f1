package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
	"github.com/voidbox/voidbox/internal/telemetry"
)

type runFlags struct {
	file, input, output, events, progress, accel string
	showOutput, tui, noWarm                      bool
	remote                                       bool
	host, idempotencyKey                         string
	warmPool                                     int
	budgets                                      hostFlags
}

func newRunCmd(e *env) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run --file SPEC",
		Short: "Run a pipeline, workflow or agent spec, each stage in its own micro-VM",
		Long: `Run the stages a spec declares, each in a fresh micro-VM, passing each stage's output to
the next. Progress is shown live on a terminal and as plain lines otherwise; a report
(status, attempts, duration, exit code, output size per stage) follows, then the run's
output. The exit code is 0 when every stage succeeded, 1 when the run failed, 130 when
it was interrupted.`,
		Example: `  voidbox run --file examples/pipeline.yaml
  voidbox run --file examples/fanout.yaml --output json --events events.jsonl
  voidbox run --file agent.yaml --input @notes.txt
  voidbox run --remote --file examples/fanout.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSpec(cmd.Context(), e, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "spec file (YAML or JSON)")
	fl.StringVar(&f.input, "input", "", "input for the first stage: text, @FILE, or @- for stdin")
	fl.StringVarP(&f.output, "output", "o", "text", "report format: text or json")
	fl.StringVar(&f.events, "events", "", "write the event stream to FILE as JSON lines")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto, live, plain or none")
	fl.BoolVar(&f.showOutput, "show-output", false, "show each stage's output lines as they come")
	fl.StringVar(&f.accel, "accel", "", "accelerator: kvm, tcg or auto")
	fl.BoolVar(&f.remote, "remote", false, "submit the run to the voidbox daemon ($VOIDBOX_HOST, else the user's socket) and follow it")
	fl.StringVar(&f.host, "host", "", "daemon address for --remote: unix:///PATH, tcp://HOST:PORT or https://HOST:PORT")
	fl.StringVar(&f.idempotencyKey, "idempotency-key", "", "with --remote: a retry with the same key returns the first run")
	fl.BoolVar(&f.tui, "tui", false, "show the run in the live panel view (voidbox tui); plain progress without a terminal")
	fl.BoolVar(&f.noWarm, "no-warm", false, "boot every stage's VM cold (default: stages of one sandbox configuration start from a template snapshot taken once in the run; retries boot cold)")
	fl.IntVar(&f.warmPool, "warm", 0, "keep N VMs of each sandbox configuration restored and parked ahead of the stages that need them (each used once; retries still boot fresh; all stopped with the run)")
	f.budgets.register(fl)
	return c
}

func runSpec(ctx context.Context, e *env, f runFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageError{fmt.Errorf("--output: %q is not text or json", f.output)}
	}
	if remoteWanted(f) {
		if f.accel != "" {
			return usageError{errors.New("--accel: the daemon chooses its accelerator (serve --accel)")}
		}
		if f.noWarm {
			return usageError{errors.New("--no-warm: the daemon decides warm starts (serve --no-warm)")}
		}
		if f.warmPool != 0 {
			return usageError{errors.New("--warm: the daemon decides its warm pool (serve --warm)")}
		}
		return runRemote(ctx, e, f)
	}
	mode, err := progressMode(f.progress)
	if err != nil {
		return err
	}
	host := voidbox.HostOptions{Accel: f.accel, NoWarm: f.noWarm, WarmPool: f.warmPool}
	var errs []error
	if f.budgets.apply(&host, &errs); len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	if err := host.Validate(); err != nil { // --warm against --no-warm and its bounds
		return usageError{err}
	}
	s, job, err := loadSpec(e, f.file, false)
	if err != nil {
		return err
	}
	if isInteractive(s) {
		return usageError{fmt.Errorf("%s: agent.mode is interactive, a session on your terminal: open it with voidbox shell --file %s", f.file, f.file)}
	}
	tcfg, err := telemetry.Resolve(s.Observe, os.Getenv)
	if err != nil {
		return usageError{fmt.Errorf("telemetry: %w", err)}
	}
	input, err := readInput(e, f.input)
	if err != nil {
		return err
	}
	var sinks event.Sinks
	var eventsFile *os.File
	var jsonl *event.Writer
	if f.events != "" {
		eventsFile, err = os.Create(f.events)
		if err != nil {
			return usageError{fmt.Errorf("--events: %w", err)}
		}
		defer eventsFile.Close()
		jsonl = event.NewWriter(eventsFile)
		sinks = append(sinks, jsonl)
	}
	var tin, tout *os.File
	if f.tui {
		var why string
		if tin, tout, why = terminalFor(e); why != "" {
			fmt.Fprintf(e.stderr, "voidbox: no panel view (%s): plain progress instead\n", why)
		}
	}
	var view *progress.Renderer
	if mode >= 0 && tin == nil {
		view = progress.New(e.stderr, progress.Options{Mode: progress.Mode(mode), ShowOutput: f.showOutput})
		sinks = append(sinks, view)
	}
	tel, err := telemetry.Start(ctx, tcfg, telemetry.Options{
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(e.stderr, "voidbox: telemetry off: %v\n", err) // never a reason not to run
	} else if tel != nil {
		defer tel.Close()
		sinks = append(sinks, tel)
	}
	opts := voidbox.RunOptions{Input: input, Events: sinks, Host: host}
	var rep *voidbox.Report
	var runErr error
	if tin != nil {
		rep, runErr = runInTUI(ctx, e, tin, tout, job, opts)
	} else {
		// Agent stages need the image with the built-in agent too.
		rep, runErr = onDemand(ctx, e, voidbox.SetupOptions{Agent: true}, func() (*voidbox.Report, error) {
			return job.Run(ctx, opts)
		})
	}
	if view != nil {
		view.Close()
	}
	if rep == nil {
		return runErr // the run never started (set-up failed)
	}
	if jsonl != nil && jsonl.Err() != nil {
		fmt.Fprintf(e.stderr, "voidbox: writing events to %s: %v\n", f.events, jsonl.Err())
	}
	if err := printReport(e.stdout, rep, f.output); err != nil {
		return err
	}
	switch rep.Status {
	case voidbox.StatusSucceeded:
		return nil
	case voidbox.StatusCancelled:
		return &exitError{ExitInterrupted, errors.New("run cancelled: every stage's VM was stopped")}
	}
	return &exitError{ExitFailure, fmt.Errorf("run %q failed", rep.Name)}
}

func printReport(w io.Writer, rep *voidbox.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if err := progress.WriteReport(w, rep); err != nil {
		return err
	}
	if len(rep.Output) > 0 {
		fmt.Fprintf(w, "\noutput:\n%s", rep.Output)
		if rep.Output[len(rep.Output)-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// progressMode maps --progress to a progress.Mode, or -1 for none.
func progressMode(s string) (int, error) {
	switch s {
	case "auto":
		return int(progress.Auto), nil
	case "live":
		return int(progress.Live), nil
	case "plain":
		return int(progress.Plain), nil
	case "none":
		return -1, nil
	}
	return 0, usageError{fmt.Errorf("--progress: %q is not auto, live, plain or none", s)}
}

func readAllLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("more than %d bytes", max)
	}
	return b, nil
}
