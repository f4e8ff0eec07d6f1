package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/ttyfilter"
)

func newShellCmd(e *env) *cobra.Command {
	var sf sandboxFlags
	var dir, file string
	c := &cobra.Command{
		Use:   "shell [flags] [-- COMMAND [ARG...]] | shell --file SPEC",
		Short: "Open an interactive shell in a fresh micro-VM",
		Long: `Boot a micro-VM and open a shell (or COMMAND) on a terminal in it, as the sandbox
user (uid 1000). Your terminal is put in raw mode: every key, Ctrl-C, Ctrl-Z and
Ctrl-D included, goes to the guest; its window size follows yours. The VM is
stopped and removed when the shell exits, and voidbox exits with the shell's status.

The guest's output reaches your terminal through a filter: text, colours, cursor
movement, the alternate screen, titles and hyperlinks pass; sequences that reach
beyond the screen (clipboard, colour or font changes, window operations and
reports, device control strings) are dropped, and modes the guest left on
(mouse reporting, bracketed paste, a hidden cursor, ...) are reset at the end.

With --file, SPEC is an interactive agent (kind: agent, agent.mode: interactive,
runtime claude-code): its VM boots with the spec's sandbox, skills and LLM gateway
as voidbox run would set them up, and your terminal is attached to Claude Code's
interactive session in it, the spec's prompt (if any) its first message. The
provider key stays on the host. Leaving Claude Code (/exit, or Ctrl-D twice)
stops the VM; a file the session left at the agent's output_file is printed.`,
		Example: `  voidbox shell
  voidbox shell --memory 1G --allow sh,ls,cat
  voidbox shell -- sh -c 'top'
  voidbox shell --file examples/interactive.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				return runSpecShell(cmd.Context(), e, cmd, sf, file, args)
			}
			cfg, err := sf.config("shell")
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"sh"}
			}
			return runTerminal(cmd.Context(), e, cfg, args, dir)
		},
	}
	sf.register(c.Flags())
	c.Flags().StringVarP(&dir, "workdir", "w", "", "working directory in the guest (default /workspace)")
	c.Flags().StringVarP(&file, "file", "f", "", "an interactive agent spec (agent.mode: interactive) to open a session with")
	return c
}

// terminalIO returns stdin and stdout when both are terminals.
func terminalIO(e *env) (in, out *os.File, err error) {
	in, okIn := e.stdin.(*os.File)
	out, okOut := e.stdout.(*os.File)
	if !okIn || !term.IsTerminal(int(in.Fd())) || !okOut || !term.IsTerminal(int(out.Fd())) {
		return nil, nil, usageError{errors.New("a terminal is needed on standard input and output (for a command without one: voidbox exec)")}
	}
	return in, out, nil
}

// runTerminal boots a sandbox and runs args on a guest terminal connected
// to the user's, in raw mode, until it exits; its status becomes ours.
func runTerminal(ctx context.Context, e *env, cfg voidbox.Config, args []string, dir string) error {
	if _, _, err := terminalIO(e); err != nil {
		return err
	}
	sb, err := onDemand(ctx, e, voidbox.SetupOptions{CacheDir: cfg.Host.CacheDir}, func() (*voidbox.Sandbox, error) {
		return voidbox.New(ctx, cfg)
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	env := map[string]string{}
	if _, ok := cfg.Policy.Env["PS1"]; !ok && len(args) == 1 && args[0] == "sh" {
		env["PS1"] = `sandbox:\w\$ `
	}
	err = terminalSession(ctx, e, func(ctx context.Context, keys io.Reader, out io.Writer, tty *voidbox.TTY) (*voidbox.Result, error) {
		return sb.Exec(ctx, voidbox.Cmd{Args: args, Dir: dir, Env: env, Stdin: keys, Stdout: out, TTY: tty})
	})
	var xe *exitError
	if errors.As(err, &xe) && xe.code == ExitTimedOut {
		xe.err = fmt.Errorf("timed out after %v and was killed", cfg.Policy.Timeout)
	}
	return err
}

// terminalSession connects the user's terminal, in raw mode, to a guest
// terminal that run drives (a fresh sandbox's, or an attached stage's):
// its size now and on every SIGWINCH, every key, and its output through
// ttyfilter; the terminal is restored whatever happens. The command's
// exit status becomes voidbox's.
func terminalSession(ctx context.Context, e *env, run func(ctx context.Context, keys io.Reader, out io.Writer, tty *voidbox.TTY) (*voidbox.Result, error)) error {
	in, out, err := terminalIO(e)
	if err != nil {
		return err
	}
	cols, rows, err := term.GetSize(int(out.Fd()))
	if err != nil {
		cols, rows = 80, 24
	}
	resize := make(chan voidbox.WindowSize, 1)
	stopResize := watchResize(out, resize)
	defer stopResize()

	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return fmt.Errorf("raw mode: %w", err)
	}
	filter := ttyfilter.New(out)
	defer func() {
		out.Write(filter.Restore())
		term.Restore(int(in.Fd()), old)
	}()
	res, err := run(ctx, in, filter, &voidbox.TTY{Rows: clampSize(rows), Cols: clampSize(cols), Term: os.Getenv("TERM"), Resize: resize})
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{ExitInterrupted, fmt.Errorf("interrupted: shell killed")}
		}
		return err
	}
	if res.TimedOut {
		return &exitError{ExitTimedOut, errors.New("timed out and was killed")}
	}
	if res.ExitCode != 0 {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

func clampSize(n int) uint16 { return uint16(min(max(n, 1), 0xffff)) }
