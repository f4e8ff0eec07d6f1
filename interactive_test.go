package voidbox

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestInteractiveRefusals: an interactive box is Claude Code's, runs
// alone and needs a terminal; each mistake fails before anything boots.
func TestInteractiveRefusals(t *testing.T) {
	host := HostOptions{Image: Image{Kernel: "/unused"}, QEMU: "/unused", CacheDir: t.TempDir()}
	session := func() *Box {
		return NewBox("chat").Interactive().Runtime(RuntimeClaudeCode).LLM(LLM{Provider: "ollama"})
	}
	cases := []struct {
		name string
		p    *Pipeline
		o    RunOptions
		want string
	}{
		{"built-in", NewPipeline("p").Pipe(NewBox("chat").Interactive()), RunOptions{},
			"interactive: runtime voidbox has no interactive session (use runtime claude-code)"},
		{"retried", NewPipeline("p").Pipe(session().Retries(1, 0)), RunOptions{}, "a session is neither a service nor retried"},
		{"turns", NewPipeline("p").Pipe(session().MaxTurns(3)), RunOptions{}, "an interactive session has no turn limit"},
		{"not alone", NewPipeline("p").Pipe(session()).Pipe(NewBox("after").Exec("true")), RunOptions{}, `box "chat" is interactive: it runs alone`},
		{"no terminal", NewPipeline("p").Pipe(session()), RunOptions{}, "it needs a terminal (RunOptions.Terminal; from the command line, voidbox shell --file SPEC)"},
	}
	for _, c := range cases {
		c.o.Host = host
		_, err := c.p.Run(context.Background(), c.o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", c.name, err, c.want)
		}
	}
	// A session without a prompt is valid.
	if _, err := NewPipeline("p").Pipe(session()).Plan(); err != nil {
		t.Errorf("a session without a prompt: %v", err)
	}
}
