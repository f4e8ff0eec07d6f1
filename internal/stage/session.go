package stage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// sessionDir is where an interactive session starts.
const sessionDir = "/workspace"

// Terminal is the user's terminal an interactive agent stage runs on.
type Terminal struct {
	Keys   io.Reader    // what the user types (raw mode)
	Screen io.Writer    // what the session shows (through the caller's filter)
	TTY    *sandbox.TTY // the guest terminal's size and later sizes
}

// sessionRuntime is a runtime with an interactive mode.
type sessionRuntime interface {
	// session returns the argv and environment of a session for cfg,
	// having prepared the guest for it.
	session(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config) (argv []string, env map[string]string, err error)
}

// session runs the agent on the user's terminal in sb, set up (skills,
// gateway, input) as a task would be, until the user leaves it. Its
// output is its output file, if it wrote one.
func (ar *agentRun) session(ctx context.Context, sb *sandbox.Sandbox, rt agentRuntime, cfg agentconfig.Config, env map[string]string, d *Detail) (pipeline.Output, error) {
	if ar.term == nil {
		return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("%w: an interactive agent needs a terminal", sandbox.ErrInvalid))
	}
	srt, ok := rt.(sessionRuntime)
	if !ok {
		return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("%w: runtime %s has no interactive session", sandbox.ErrInvalid, ar.agent.runtime()))
	}
	argv, senv, err := srt.session(ctx, sb, cfg)
	if err != nil {
		return pipeline.Output{}, pipeline.Permanent(err)
	}
	for k, v := range env {
		senv[k] = v
	}
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: argv, Env: senv, Dir: sessionDir, As: sandbox.AsSystem,
		Stdin: ar.term.Keys, Stdout: ar.term.Screen, TTY: ar.term.TTY})
	if err != nil {
		return pipeline.Output{}, err
	}
	d.ExecMS = ms(res.Duration)
	if res.TimedOut {
		// No exit code: the session did not end by itself.
		return pipeline.Output{}, errors.New("session timed out and was killed")
	}
	out := pipeline.Output{ExitCode: new(res.ExitCode)}
	switch {
	case res.ExitCode != 0:
		return out, fmt.Errorf("session: %w", &pipeline.ExitError{Code: res.ExitCode})
	}
	box := ar.st.Box
	if _, ok, err := sb.Stat(ctx, box.Output()); err != nil || !ok {
		return out, err
	}
	d.OutputFrom, ar.detail.OutputFile = "file", box.Output()
	out.Data, err = sb.ReadFile(ctx, box.Output())
	return out, err
}
