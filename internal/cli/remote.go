package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/client"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
)

// daemonClient is the client of $VOIDBOX_HOST, or of the user's default
// unix socket, or of host when given.
func daemonClient(host string) (*client.Client, error) {
	if host != "" {
		return client.FromEnv(func(k string) string {
			if k == client.EnvHost {
				return host
			}
			return os.Getenv(k)
		}, "")
	}
	return client.FromEnv(os.Getenv, "unix://"+apiserver.DefaultSocketPath(os.Getenv))
}

// remoteWanted: run --remote, or $VOIDBOX_HOST set.
func remoteWanted(f runFlags) bool {
	return f.remote || f.host != "" || os.Getenv(client.EnvHost) != ""
}

// runRemote submits the spec file to a daemon and shows the run as a local
// run is shown: the same progress (from the event stream), report and exit
// code. Ctrl-C cancels the run on the daemon.
func runRemote(ctx context.Context, e *env, f runFlags) error {
	mode, err := progressMode(f.progress)
	if err != nil {
		return err
	}
	if f.file == "" {
		return usageError{errors.New("--file is required")}
	}
	text, err := os.ReadFile(f.file)
	if err != nil {
		return usageError{fmt.Errorf("reading spec %s: %w", f.file, err)}
	}
	input, err := readInput(e, f.input)
	if err != nil {
		return err
	}
	c, err := daemonClient(f.host)
	if err != nil {
		return usageError{err}
	}
	req := apiv1.CreateRun{Spec: string(text), SpecName: filepath.Base(f.file)}
	if utf8.Valid(input) {
		req.Input = string(input)
	} else {
		req.InputBase64 = input
	}
	run, err := c.CreateRun(ctx, req, f.idempotencyKey)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == apiv1.CodeInvalidSpec {
			return usageError{errors.New(ce.Message)}
		}
		return err
	}
	fmt.Fprintf(e.stderr, "run %s queued on the daemon\n", run.ID)
	var sinks event.Sinks
	var jsonl *event.Writer
	if f.events != "" {
		ef, err := os.Create(f.events)
		if err != nil {
			return usageError{fmt.Errorf("--events: %w", err)}
		}
		defer ef.Close()
		jsonl = event.NewWriter(ef)
		sinks = append(sinks, jsonl)
	}
	var view *progress.Renderer
	if mode >= 0 {
		view = progress.New(e.stderr, progress.Options{Mode: progress.Mode(mode), ShowOutput: f.showOutput})
		sinks = append(sinks, view)
	}
	followErr := c.Follow(ctx, run.ID, 0, func(_ uint64, ev event.Event) error { sinks.Emit(ev); return nil })
	if view != nil {
		view.Close()
	}
	if ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := c.CancelRun(cctx, run.ID); err != nil {
			return fmt.Errorf("cancelling run %s on the daemon: %w", run.ID, err)
		}
		return &exitError{ExitInterrupted, fmt.Errorf("run %s cancelled: every stage's VM was stopped", run.ID)}
	}
	if followErr != nil {
		return followErr
	}
	if jsonl != nil && jsonl.Err() != nil {
		fmt.Fprintf(e.stderr, "voidbox: writing events to %s: %v\n", f.events, jsonl.Err())
	}
	final, err := c.GetRun(ctx, run.ID)
	if err != nil {
		return err
	}
	return reportRemote(e, final, f.output)
}

// reportRemote prints a finished remote run as runSpec prints a local one.
func reportRemote(e *env, r apiv1.Run, format string) error {
	if len(r.Report) == 0 { // the run never started
		return &exitError{ExitFailure, fmt.Errorf("run %s (%s) %s: %s", r.ID, r.Name, r.Status, r.Error)}
	}
	var rep voidbox.Report
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		return fmt.Errorf("run %s: reading its report: %w", r.ID, err)
	}
	if err := printReport(e.stdout, &rep, format); err != nil {
		return err
	}
	switch rep.Status {
	case voidbox.StatusSucceeded:
		return nil
	case voidbox.StatusCancelled:
		return &exitError{ExitInterrupted, fmt.Errorf("run %s cancelled: %s", r.ID, r.Error)}
	}
	return &exitError{ExitFailure, fmt.Errorf("run %q failed", rep.Name)}
}

func newPsCmd(e *env) *cobra.Command {
	var host, status, name string
	var limit int
	var asJSON bool
	c := &cobra.Command{
		Use:   "ps",
		Short: "List the daemon's runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := daemonClient(host)
			if err != nil {
				return usageError{err}
			}
			o := client.ListOptions{Name: name, Limit: limit}
			if status != "" {
				o.Status = strings.Split(status, ",")
			}
			l, err := c.ListRuns(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, l)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tNAME\tSTATUS\tCREATED\tDURATION\tERROR")
			for _, r := range l.Runs {
				dur := "-"
				if !r.StartedAt.IsZero() {
					end := r.FinishedAt
					if end.IsZero() {
						end = time.Now()
					}
					dur = end.Sub(r.StartedAt).Round(100 * time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Status,
					r.CreatedAt.Local().Format("2006-01-02 15:04:05"), dur, progress.Clean(firstLine(r.Error), 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if l.Next != "" {
				fmt.Fprintf(e.stderr, "more: voidbox ps --limit %d (next page cursor %s)\n", limit, l.Next)
			}
			return nil
		},
	}
	c.Flags().StringVar(&host, "host", "", "daemon address (default $VOIDBOX_HOST, then the user's socket)")
	c.Flags().StringVar(&status, "status", "", "only runs with these statuses (comma-separated)")
	c.Flags().StringVar(&name, "name", "", "only runs of this spec name")
	c.Flags().IntVar(&limit, "limit", 20, "at most this many")
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func newLogsCmd(e *env) *cobra.Command {
	var host, mode string
	var follow, jsonl bool
	c := &cobra.Command{
		Use:   "logs RUN",
		Short: "Show a daemon run's events (with -f, until it ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := daemonClient(host)
			if err != nil {
				return usageError{err}
			}
			var sink event.Sink
			var view *progress.Renderer
			if jsonl {
				w := event.NewWriter(e.stdout)
				sink = w
			} else {
				m, err := progressMode(mode)
				if err != nil || m < 0 {
					return usageError{fmt.Errorf("--progress: %q is not auto, live or plain", mode)}
				}
				view = progress.New(e.stdout, progress.Options{Mode: progress.Mode(m), ShowOutput: true})
				sink = view
				defer view.Close()
			}
			ctx, id := cmd.Context(), args[0]
			if follow {
				return c.Follow(ctx, id, 0, func(_ uint64, ev event.Event) error { sink.Emit(ev); return nil })
			}
			var after uint64
			for {
				p, err := c.EventPage(ctx, id, after, 1000, "")
				if err != nil {
					return err
				}
				for _, ev := range p.Events {
					after = ev.ID
					if d, err := event.Decode(ev.Event); err == nil {
						sink.Emit(d)
					}
				}
				if len(p.Events) == 0 {
					return nil
				}
			}
		},
	}
	c.Flags().StringVar(&host, "host", "", "daemon address (default $VOIDBOX_HOST, then the user's socket)")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "follow the run until it ends")
	c.Flags().BoolVar(&jsonl, "jsonl", false, "print the events as JSON lines")
	c.Flags().StringVar(&mode, "progress", "plain", "auto, live or plain")
	return c
}

func newCancelCmd(e *env) *cobra.Command {
	var host string
	c := &cobra.Command{
		Use:   "cancel RUN...",
		Short: "Cancel daemon runs; returns once their VMs are gone",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := daemonClient(host)
			if err != nil {
				return usageError{err}
			}
			var errs []error
			for _, id := range args {
				r, err := c.CancelRun(cmd.Context(), id)
				if err != nil {
					errs = append(errs, fmt.Errorf("run %s: %w", id, err))
					continue
				}
				fmt.Fprintf(e.stdout, "%s %s\n", r.ID, r.Status)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVar(&host, "host", "", "daemon address (default $VOIDBOX_HOST, then the user's socket)")
	return c
}

func newRmCmd(e *env) *cobra.Command {
	var host string
	c := &cobra.Command{
		Use:   "rm RUN...",
		Short: "Delete finished daemon runs with their events and outputs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := daemonClient(host)
			if err != nil {
				return usageError{err}
			}
			var errs []error
			for _, id := range args {
				if err := c.DeleteRun(cmd.Context(), id); err != nil {
					errs = append(errs, fmt.Errorf("run %s: %w", id, err))
					continue
				}
				fmt.Fprintln(e.stdout, id)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVar(&host, "host", "", "daemon address (default $VOIDBOX_HOST, then the user's socket)")
	return c
}
