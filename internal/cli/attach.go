package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/attach"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

func newAttachCmd(e *env) *cobra.Command {
	var shell, list bool
	c := &cobra.Command{
		Use:   "attach RUN/STAGE [--shell] | attach --list",
		Short: "Follow a running stage's output, or open a shell in its VM",
		Long: `Join a stage of a run that another voidbox process on this host is running.

By default attach follows the stage's current attempt read-only: what it printed so
far, then its output and events as they come, until the attempt ends. With --shell it
opens a shell (sh, as the sandbox user, under the stage's allowed_commands and rlimits)
on a terminal in the stage's VM — only when the stage's spec says
sandbox.attach_shell: true (off by default, agent stages included). Leaving the shell
leaves the stage running; the shell ends when the attempt ends.

The process running the stage serves attach on a socket in the VM's private runtime
directory ($XDG_RUNTIME_DIR/voidbox/vm-*/attach.sock, 0600): only the same user (or
root) can attach. A whole run (RUN without a stage) can be attached to once the run
belongs to a daemon; for a run of a voidbox process, attach to one of its stages.`,
		Example: `  voidbox attach --list
  voidbox attach number-stats/merge
  voidbox attach build/test --shell`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets := attach.List(vmm.RuntimeParents())
			if list {
				return listTargets(e.stdout, targets)
			}
			if len(args) != 1 {
				return usageError{errors.New("name RUN/STAGE (voidbox attach --list shows them)")}
			}
			run, stage, ok := strings.Cut(args[0], "/")
			if !ok || stage == "" {
				return wholeRun(run, targets)
			}
			t, err := attach.Find(targets, run, stage)
			if err != nil {
				return fmt.Errorf("%w (voidbox attach --list shows the running ones)", err)
			}
			if shell {
				return attachShell(cmd.Context(), e, t)
			}
			return follow(cmd.Context(), e, t)
		},
	}
	c.Flags().BoolVar(&shell, "shell", false, "open a shell in the stage's VM (needs sandbox.attach_shell: true)")
	c.Flags().BoolVar(&list, "list", false, "list the stages that can be attached to")
	return c
}

func listTargets(w io.Writer, targets []attach.Target) error {
	if len(targets) == 0 {
		fmt.Fprintln(w, "no running stage to attach to")
		return nil
	}
	for _, t := range targets {
		shell := ""
		if t.Shell {
			shell = "  shell allowed"
		}
		fmt.Fprintf(w, "%s/%s  attempt %d  pid %d%s\n", strip(t.Run), strip(t.Stage), t.Attempt, t.OwnerPID, shell)
	}
	return nil
}

// wholeRun explains what attaching to RUN alone means here.
func wholeRun(run string, targets []attach.Target) error {
	var stages []string
	for _, t := range targets {
		if t.Run == run {
			stages = append(stages, run+"/"+t.Stage)
		}
	}
	if len(stages) > 0 {
		return usageError{fmt.Errorf("run %q is a run of another voidbox process: attach to one of its running stages: %s", run, strings.Join(stages, ", "))}
	}
	return fmt.Errorf("%w: no stage of a run %q is running on this host (attaching to a daemon's run needs the daemon, which this build does not include)", attach.ErrNotFound, run)
}

// follow prints the attempt's progress and output as voidbox run
// --show-output would, and the agent's activity, until it ends.
func follow(ctx context.Context, e *env, t attach.Target) error {
	fmt.Fprintf(e.stderr, "voidbox: following %s; Ctrl-C stops following (the stage goes on)\n", t)
	view := progress.New(e.stdout, progress.Options{Mode: progress.Plain, ShowOutput: true})
	err := attach.Follow(ctx, t, func(ev event.Event) {
		view.Emit(ev)
		if line := agentLine(ev); line != "" {
			fmt.Fprintf(e.stdout, "%s [%s agent] %s\n", ev.Time.Format("15:04:05"), strip(ev.Stage), strip(line))
		}
	})
	view.Close()
	if err != nil && ctx.Err() != nil {
		return &exitError{ExitInterrupted, nil}
	}
	if err == nil {
		fmt.Fprintf(e.stderr, "voidbox: the attempt ended\n")
	}
	return err
}

func agentLine(ev event.Event) string {
	switch d := ev.Data.(type) {
	case event.AgentTurn:
		return fmt.Sprintf("turn %d: %d in / %d out tokens (%s)", d.Turn, d.InputTokens, d.OutputTokens, d.StopReason)
	case event.AgentToolCall:
		s := fmt.Sprintf("turn %d: %s", d.Turn, d.Name)
		if d.ExitCode != nil {
			s += fmt.Sprintf(" exit %d", *d.ExitCode)
		}
		if d.Denied {
			s += " denied"
		}
		return s
	case event.AgentDenied:
		return "denied: " + d.Command + " (" + d.Reason + ")"
	case event.AgentFinished:
		return fmt.Sprintf("finished: %d turns, %d tool calls %s", d.Turns, d.ToolCalls, d.Error)
	}
	return ""
}

// strip drops control characters from text that came from elsewhere.
func strip(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
}

func attachShell(ctx context.Context, e *env, t attach.Target) error {
	if !t.Shell { // the server refuses too; say so before taking the terminal
		return attach.ShellRefused(t.Stage)
	}
	return terminalSession(ctx, e, func(ctx context.Context, keys io.Reader, out io.Writer, tty *voidbox.TTY) (*voidbox.Result, error) {
		return attach.Shell(ctx, t, keys, out, sandbox.TTY(*tty))
	})
}
