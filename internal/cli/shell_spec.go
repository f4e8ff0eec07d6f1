package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/spec"
)

// specShellFlags are the shell flags that still mean something with --file:
// the spec sets the VM, these only say how this host runs it.
var specShellFlags = map[string]bool{"file": true, "accel": true, "boot-timeout": true, "boot-slots": true, "memory-budget": true}

// runSpecShell runs an interactive agent spec (agent.mode: interactive) on
// the user's terminal: its VM, skills, prompt and LLM gateway set up as a
// run of the spec would, the terminal attached to the agent's session.
func runSpecShell(ctx context.Context, e *env, c *cobra.Command, sf sandboxFlags, file string, args []string) error {
	var errs []error
	c.Flags().Visit(func(fl *pflag.Flag) {
		if !specShellFlags[fl.Name] {
			errs = append(errs, fmt.Errorf("--%s: with --file the spec sets the VM (edit its sandbox block)", fl.Name))
		}
	})
	if len(args) > 0 {
		errs = append(errs, errors.New("a command: with --file the session is the spec's agent"))
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	host := voidbox.HostOptions{Accel: sf.accel, BootTimeout: sf.bootTimeout}
	if sf.host.apply(&host, &errs); len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	if _, _, err := terminalIO(e); err != nil {
		return usageError{fmt.Errorf("%s: a terminal is needed on standard input and output (the agent is an interactive session)", file)}
	}
	s, job, err := loadSpec(e, file, false)
	if err != nil {
		return err
	}
	if !isInteractive(s) {
		return usageError{fmt.Errorf("%s: not an interactive agent (agent.mode: interactive): run it with voidbox run --file %s", file, file)}
	}
	var rep *voidbox.Report
	err = terminalSession(ctx, e, func(ctx context.Context, keys io.Reader, out io.Writer, tty *voidbox.TTY) (*voidbox.Result, error) {
		opts := voidbox.RunOptions{Host: host, Events: queueNotice(e),
			Terminal: &voidbox.Terminal{Keys: keys, Screen: out, TTY: tty}}
		var err error
		rep, err = onDemand(ctx, e, voidbox.SetupOptions{}, func() (*voidbox.Report, error) { return job.Run(ctx, opts) })
		if err != nil {
			return nil, err
		}
		return sessionResult(ctx, rep)
	})
	if err == nil && rep != nil && len(rep.Output) > 0 {
		fmt.Fprintf(e.stdout, "output:\n%s", rep.Output)
		if rep.Output[len(rep.Output)-1] != '\n' {
			fmt.Fprintln(e.stdout)
		}
	}
	return err
}

// sessionResult is how the session's run ended, as a command's result:
// the session's exit status, or why it did not run to its end.
func sessionResult(ctx context.Context, rep *voidbox.Report) (*voidbox.Result, error) {
	if rep.Status == voidbox.StatusSucceeded {
		return &voidbox.Result{}, nil
	}
	if len(rep.Stages) != 1 || rep.Status == voidbox.StatusCancelled {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("session %q: %s", rep.Name, rep.Status)
	}
	st := rep.Stages[0]
	// A session that ran to its end has an exit code; one that timed out
	// or never started has none (its error says why).
	if st.ExitCode != nil && *st.ExitCode != 0 {
		return &voidbox.Result{ExitCode: *st.ExitCode}, nil
	}
	return nil, fmt.Errorf("session %q: %s", st.Name, st.Error)
}

// isInteractive reports whether s is an interactive agent spec.
func isInteractive(s *spec.Spec) bool {
	return s.Kind == spec.KindAgent && s.Agent != nil && s.Agent.Interactive
}
