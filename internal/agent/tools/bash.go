package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/voidbox/voidbox/internal/agent/shell"
)

// Env is what the built-in tools work in.
type Env struct {
	// Workspace is the working directory of commands and the base of
	// relative paths.
	Workspace string
	// Vars is the environment of commands, as KEY=VALUE.
	Vars []string
	// Policy decides which commands bash may run; nil allows every command.
	Policy *shell.Policy
	// AllowedCommands is the allowlist as configured, for the tool's
	// description (nil: none; empty: no program).
	AllowedCommands []string
	// OnDenied is called for every command the policy refuses.
	OnDenied func(shell.Denial)
	// OutputLimit caps a command's output; shell.DefaultOutputLimit if 0.
	OutputLimit int
}

const bashSchema = `{"type":"object","properties":{"command":{"type":"string","description":"The shell script to run."}},"required":["command"]}`

// Bash returns the bash tool.
func Bash(env Env) Tool {
	desc := "Run a shell script (bash syntax) in the workspace and return its combined stdout and stderr and its exit code. " +
		"Each call starts fresh in the workspace directory: variables and cd do not carry over. " +
		"Stdin is empty; processes still running when the script ends are killed. Long output is cut in the middle."
	switch {
	case env.AllowedCommands == nil:
	case len(env.AllowedCommands) == 0:
		desc += " No program may be run, only shell builtins (echo, printf, test, read, cd, …): every program is denied by policy with exit status 126."
	default:
		desc += " Only these programs may be run (shell builtins always work): " + strings.Join(env.AllowedCommands, ", ") +
			". Any other program is denied by policy with exit status 126."
	}
	return Tool{
		Name:        "bash",
		Description: desc,
		Schema:      json.RawMessage(bashSchema),
		Call: func(ctx context.Context, input json.RawMessage) Result {
			var in struct {
				Command string `json:"command"`
			}
			if err := decode(input, &in); err != nil {
				return Errorf("%v", err)
			}
			if strings.TrimSpace(in.Command) == "" {
				return Errorf("command is empty")
			}
			res, err := shell.Run(ctx, in.Command, shell.Options{
				Dir: env.Workspace, Env: env.Vars, Policy: env.Policy,
				OutputLimit: env.OutputLimit, OnDenied: env.OnDenied,
			})
			if err != nil {
				return Errorf("running command: %v", err)
			}
			return bashResult(res)
		},
	}
}

// bashResult renders a shell result for the model: the output, then
// bracketed notes on what went wrong.
func bashResult(res shell.Result) Result {
	var b strings.Builder
	b.WriteString(res.Output)
	if res.Output != "" && !strings.HasSuffix(res.Output, "\n") {
		b.WriteByte('\n')
	}
	for _, d := range res.Denials {
		fmt.Fprintf(&b, "[denied by policy: %s: %s]\n", d.Command, d.Reason)
	}
	out := Result{Denied: len(res.Denials) > 0}
	code := res.ExitCode
	switch {
	case res.TimedOut:
		out.IsError, out.Error = true, "timed out"
		b.WriteString("[timed out: the command was killed]\n")
	case res.Canceled:
		out.IsError, out.Error = true, "canceled"
		b.WriteString("[canceled: the agent is stopping]\n")
	default:
		// A non-zero status is information for the model (grep found
		// nothing), not a failed tool call.
		out.ExitCode = &code
		if code != 0 {
			fmt.Fprintf(&b, "[exit status %d]\n", code)
		}
	}
	if b.Len() == 0 {
		b.WriteString("(no output)\n")
	}
	out.Content = b.String()
	return out
}
