package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/voidbox/voidbox/internal/agent/chat"
	"github.com/voidbox/voidbox/internal/agent/mcptools"
	"github.com/voidbox/voidbox/internal/agent/shell"
	"github.com/voidbox/voidbox/internal/agent/tools"
	"github.com/voidbox/voidbox/internal/event"
)

// ErrMaxTurns reports a run that used max_turns responses without a final answer.
var ErrMaxTurns = errors.New("max_turns reached")

// model is what the loop needs of a chat client.
type model interface {
	Send(ctx context.Context, req chat.Request) (chat.Response, error)
}

// Result is the outcome of a run.
type Result struct {
	FinalText    string
	Turns        int
	ToolCalls    int
	InputTokens  int64
	OutputTokens int64
	// OutputFile is the output file's path if it exists at the end.
	OutputFile string
	// WroteOutput says that the agent loop wrote the final answer there
	// (false when the model wrote the file itself).
	WroteOutput bool
}

// Run runs the agent loop for cfg (defaults applied, then validated) until
// the model gives a final answer, max_turns is reached, or ctx ends. It
// emits events on ev, agent.finished last whatever happens.
func Run(ctx context.Context, cfg Config, ev *event.Writer) (res Result, err error) {
	cfg = cfg.WithDefaults()
	before := statOutput(cfg.OutputFile)
	defer func() {
		if _, statErr := os.Stat(cfg.OutputFile); statErr == nil {
			res.OutputFile = cfg.OutputFile
		}
		fin := event.AgentFinished{
			Turns: res.Turns, ToolCalls: res.ToolCalls, InputTokens: res.InputTokens,
			OutputTokens: res.OutputTokens, FinalText: res.FinalText, OutputFile: res.OutputFile,
		}
		if err != nil {
			fin.Error = err.Error()
		}
		ev.Send(fin)
	}()

	if err := cfg.Validate(); err != nil {
		return res, err
	}
	policy, err := shell.NewPolicy(cfg.AllowedCommands, cfg.TrustedDirs...)
	if err != nil {
		return res, fmt.Errorf("%w: allowed_commands: %v", ErrInvalidConfig, err)
	}
	servers, err := mcptools.Connect(ctx, mcpServers(cfg), mcptools.Options{
		Dir: cfg.Workspace, Env: os.Environ(), StartTimeout: time.Duration(cfg.ToolTimeout),
	})
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("starting mcp servers: %w", context.Cause(ctx))
		}
		return res, err
	}
	defer servers.Close()

	env := tools.Env{
		Workspace: cfg.Workspace, Vars: append(os.Environ(), "WORKSPACE="+cfg.Workspace),
		Policy: policy, AllowedCommands: cfg.AllowedCommands,
		OnDenied: func(d shell.Denial) { ev.Send(event.AgentDenied{Command: d.Command, Reason: d.Reason}) },
	}
	all := append(tools.Builtin(env), servers.Tools()...)
	byName := make(map[string]tools.Tool, len(all))
	specs := make([]chat.ToolSpec, 0, len(all))
	names := make([]string, 0, len(all))
	for _, t := range all {
		byName[t.Name] = t
		specs = append(specs, chat.ToolSpec{Name: t.Name, Description: t.Description, Schema: t.Schema})
		names = append(names, t.Name)
	}
	ev.Send(event.AgentStarted{Provider: string(cfg.Provider), Model: cfg.Model, Tools: names})

	l := &loop{cfg: cfg, ev: ev, model: newModel(cfg), tools: byName, res: &res}
	req := chat.Request{
		Model: cfg.Model, MaxTokens: cfg.MaxTokens, System: systemPrompt(cfg, names), Tools: specs,
		Messages: []chat.Message{{Role: chat.User, Text: userMessage(cfg)}},
	}
	if err := l.run(ctx, req); err != nil {
		return res, err
	}
	if statOutput(cfg.OutputFile).changedSince(before) {
		return res, nil // the model wrote its own output
	}
	if err := writeOutput(cfg.OutputFile, res.FinalText); err != nil {
		return res, err
	}
	res.WroteOutput = true
	return res, nil
}

func newModel(cfg Config) model {
	opts := chat.Options{MaxRetries: cfg.MaxRetries}
	if cfg.Provider == ProviderOpenAI {
		return chat.NewOpenAI(cfg.BaseURL, opts)
	}
	return chat.NewAnthropic(cfg.BaseURL, opts)
}

func mcpServers(cfg Config) []mcptools.Server {
	out := make([]mcptools.Server, 0, len(cfg.MCPServers))
	for _, s := range cfg.MCPServers {
		env := make([]string, 0, len(s.Env))
		for k, v := range s.Env {
			env = append(env, k+"="+v)
		}
		sort.Strings(env)
		out = append(out, mcptools.Server{Name: s.Name, Command: s.Command, Args: s.Args, Env: env, URL: s.URL})
	}
	return out
}
