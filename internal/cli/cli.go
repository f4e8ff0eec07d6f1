// Package cli implements the voidbox command line, one file per subcommand.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
)

// Exit codes of voidbox itself (a guest command's own code passes through).
const (
	ExitOK          = 0
	ExitFailure     = 1   // a run or check failed
	ExitUsage       = 2   // bad flags or arguments
	ExitSandbox     = 125 // voidbox could not run the command (setup, boot, VM lost)
	ExitTimedOut    = 124 // like timeout(1)
	ExitInterrupted = 130 // Ctrl-C
)

// Interrupted is the cancellation cause when a signal stops voidbox.
type Interrupted struct{ Signal os.Signal }

func (i Interrupted) Error() string { return "interrupted by " + i.Signal.String() }

// exitError carries a specific exit code; its message (if any) is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad flags or arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// env is what every subcommand gets.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Run executes the CLI and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return exitCode(ctx, err, stderr)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "voidbox",
		Short:         "Run commands, agents and pipelines in micro-VMs",
		Long:          "voidbox runs each command or agent stage in its own QEMU micro-VM, with declared capabilities and enforced limits.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newExecCmd(e),
		newShellCmd(e),
		newAttachCmd(e),
		newSetupCmd(e),
		newKernelCmd(e),
		newImageCmd(e),
		newDoctorCmd(e),
		newRunCmd(e),
		newTUICmd(e),
		newValidateCmd(e),
		newInspectCmd(e),
		newBenchCmd(e),
		newVersionCmd(e),
		newServeCmd(e),
		newPsCmd(e),
		newLogsCmd(e),
		newCancelCmd(e),
		newRmCmd(e),
		newSnapshotCmd(e),
	)
	return root
}

// printErr prints err with every line prefixed, so joined errors (one
// problem per line) read as a list.
func printErr(w io.Writer, err error) {
	for _, l := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		if strings.HasPrefix(l, "  | ") {
			fmt.Fprintln(w, l) // console tail lines keep their own prefix
			continue
		}
		fmt.Fprintln(w, "voidbox:", l)
	}
}

func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if xe.err != nil {
			printErr(stderr, xe.err)
		}
		return xe.code
	}
	printErr(stderr, err)
	var ue usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, voidbox.ErrInvalid),
		strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "accepts "),
		strings.HasPrefix(err.Error(), "requires at least"):
		return ExitUsage
	case errors.As(context.Cause(ctx), new(Interrupted)):
		return ExitInterrupted
	case errors.Is(err, voidbox.ErrMissingDependency), errors.Is(err, voidbox.ErrBoot), errors.Is(err, voidbox.ErrVMGone):
		return ExitSandbox
	}
	return ExitFailure
}
