package voidbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/plural"
)

// stageIO says how a stage receives its input and hands over its output.
type stageIO struct {
	inputFile  bool // input goes to /workspace/input.json (pipelines)
	stdin      bool // input goes to the command's stdin (workflows)
	outputFile bool // output is the output file if written, else stdout
}

// stagePayload is what the engine carries for the runner.
type stagePayload struct {
	box *Box
	io  stageIO
}

func (b *Box) node(io stageIO) pipeline.Node {
	return pipeline.Node{
		ID:      b.name,
		Retries: b.retries,
		Backoff: b.backoff,
		Timeout: b.timeout,
		Payload: stagePayload{box: b, io: io},
	}
}

// StageDetail is what a stage's report carries about its VM and command.
type StageDetail struct {
	Kernel        string  `json:"kernel,omitempty"`
	Accel         string  `json:"accel,omitempty"`
	BootMS        float64 `json:"boot_ms"`
	ExecMS        float64 `json:"exec_ms"`
	OutputFrom    string  `json:"output_from,omitempty"` // "file" or "stdout"
	StdoutDropped int64   `json:"stdout_dropped_bytes,omitempty"`
	Agent         any     `json:"agent,omitempty"` // agent stages: turns, tokens, cost
}

// run prepares the host once and executes the graph.
func run(ctx context.Context, g *pipeline.Graph, o RunOptions) (*Report, error) {
	host := o.Host
	// Preflight first: a missing key should not wait for a kernel download.
	if err := preflight(g, host.CacheDir); err != nil {
		return nil, err
	}
	r := &stageRunner{host: host}
	agents := hasAgents(g)
	if host.Image.Kernel == "" || agents {
		// One set-up gives both the base image and, if needed, the agent one.
		s, err := Setup(ctx, SetupOptions{CacheDir: host.CacheDir, Progress: o.Progress, Agent: agents})
		if err != nil {
			return nil, err
		}
		if r.host.Image.Kernel == "" {
			r.host.Image = s.Image
		}
		if r.host.QEMU == "" {
			r.host.QEMU = s.QEMU
		}
		r.agentImage = s.AgentImage
	}
	return pipeline.Run(ctx, g, r, pipeline.Options{Input: o.Input, Sink: o.Events})
}

// preflight catches, before any VM boots, what would fail every attempt of
// a stage: an agent box whose provider key is missing or endpoint invalid.
func preflight(g *pipeline.Graph, cacheDir string) error {
	var errs []error
	for _, n := range g.Nodes {
		a := n.Payload.(stagePayload).box.agent
		if a == nil {
			continue
		}
		prov, err := a.provider()
		if err == nil {
			var gw *llm.Gateway
			if gw, err = llm.NewGateway(prov, llm.Options{}); err == nil {
				gw.Close()
			}
		}
		if errors.Is(err, llm.ErrMissingKey) {
			env := prov.APIKeyEnv
			if env == "" {
				env = llm.DefaultKeyEnv(prov.Kind)
			}
			err = fmt.Errorf("%w: the %s provider needs an API key in %s on this host (it never enters the VM); "+
				"set it, name another variable with api_key_env, or use a local provider such as ollama", ErrInvalid, prov.Kind, env)
		} else if err != nil {
			err = fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if err == nil && a.runtime == RuntimeClaudeCode {
			_, err = runtimeFor(a.runtime, cacheDir) // says how to build a missing image
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stage %q: %w", n.ID, err))
		}
	}
	return errors.Join(errs...)
}

// stageRunner boots one VM per stage attempt.
type stageRunner struct {
	host       Config
	agentImage Image // the image of built-in agent stages
}

// hasAgents reports whether g has stages that run the built-in agent (and
// so need the image with voidbox-agent in it).
func hasAgents(g *pipeline.Graph) bool {
	for _, n := range g.Nodes {
		if a := n.Payload.(stagePayload).box.agent; a != nil && a.runtime == RuntimeVoidbox {
			return true
		}
	}
	return false
}

// configFor merges the host-wide settings into a box's sandbox settings.
func (r *stageRunner) configFor(b *Box) Config {
	c := b.cfg
	c.Name = b.name
	if c.Image.Kernel == "" {
		c.Image = r.host.Image
	}
	c.QEMU, c.CacheDir = r.host.QEMU, r.host.CacheDir
	if c.Accel == "" {
		c.Accel = r.host.Accel
	}
	if c.BootTimeout == 0 {
		c.BootTimeout = r.host.BootTimeout
	}
	if c.Logger == nil {
		c.Logger = r.host.Logger
	}
	if c.OutputLimit == 0 {
		c.OutputLimit = r.host.OutputLimit
	}
	return c
}

func (r *stageRunner) RunStage(ctx context.Context, n *pipeline.Node, attempt int, input []byte, emit func(pipeline.Event)) (pipeline.Output, error) {
	p := n.Payload.(stagePayload)
	if p.box.agent != nil {
		return r.runAgent(ctx, p, attempt, input, emit)
	}
	cfg := r.configFor(p.box)
	sb, err := New(ctx, cfg)
	if err != nil {
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrMissingDependency) {
			err = pipeline.Permanent(err)
		}
		return pipeline.Output{}, fmt.Errorf("starting VM: %w", err)
	}
	defer sb.Close()
	info := sb.Info()
	detail := &StageDetail{Kernel: info.Kernel, Accel: info.Accel, BootMS: ms(info.BootTime)}
	emit(pipeline.Event{Type: "vm.booted", Fields: map[string]any{
		"boot_ms": detail.BootMS, "kernel": info.Kernel, "accel": info.Accel}})

	return r.runCommand(ctx, sb, p, attempt, input, emit, detail)
}

func (r *stageRunner) runCommand(ctx context.Context, sb *Sandbox, p stagePayload, attempt int, input []byte, emit func(pipeline.Event), d *StageDetail) (pipeline.Output, error) {
	cmd := Cmd{Args: p.box.exec, Env: stageEnv(p.box.name, attempt)}
	if input != nil {
		if p.io.stdin {
			cmd.Stdin = bytes.NewReader(input)
		}
		if p.io.inputFile {
			if err := sb.WriteFile(ctx, InputFile, input, 0o644); err != nil {
				return pipeline.Output{Detail: d}, fmt.Errorf("writing %s: %w", InputFile, err)
			}
		}
	}
	var stdout bytes.Buffer
	cmd.Stdout = &emitWriter{stream: "stdout", emit: emit, keep: &stdout}
	cmd.Stderr = &emitWriter{stream: "stderr", emit: emit}
	res, err := sb.Exec(ctx, cmd)
	if err != nil {
		return pipeline.Output{Detail: d}, err
	}
	d.ExecMS = ms(res.Duration)
	d.StdoutDropped = res.StdoutDropped
	out := pipeline.Output{ExitCode: new(res.ExitCode), Data: stdout.Bytes(), Detail: d}
	switch {
	case res.TimedOut:
		return out, fmt.Errorf("command timed out after %v", sb.cfg.Timeout)
	case res.OOMKilled && res.ExitCode != 0:
		return out, fmt.Errorf("%s: %w", res.Reason(), &pipeline.ExitError{Code: res.ExitCode})
	case res.ExitCode != 0:
		return out, &pipeline.ExitError{Code: res.ExitCode}
	}
	d.OutputFrom = "stdout"
	if p.io.outputFile {
		if _, ok, err := sb.Stat(ctx, p.box.output()); err != nil {
			return out, err
		} else if ok {
			data, err := sb.ReadFile(ctx, p.box.output())
			if err != nil {
				return out, fmt.Errorf("reading the stage output: %w", err)
			}
			out.Data, d.OutputFrom = data, "file"
		}
	}
	return out, nil
}

// stageEnv tells a stage's commands where they are: VOIDBOX_STAGE and
// VOIDBOX_ATTEMPT (1-based), e.g. to behave differently on a retry.
func stageEnv(stage string, attempt int) map[string]string {
	return map[string]string{"VOIDBOX_STAGE": stage, "VOIDBOX_ATTEMPT": fmt.Sprint(attempt)}
}

// emitWriter turns a command's output into exec.output events, optionally
// keeping a copy (bounded by the sandbox's output cap upstream).
type emitWriter struct {
	stream string
	emit   func(pipeline.Event)
	keep   *bytes.Buffer
}

func (w *emitWriter) Write(p []byte) (int, error) {
	w.emit(pipeline.ExecOutput(w.stream, p))
	if w.keep != nil {
		w.keep.Write(p)
	}
	return len(p), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Summary is the one-line description the CLI report shows for a stage.
func (d *StageDetail) Summary() string {
	a, ok := d.Agent.(*AgentDetail)
	if !ok {
		return ""
	}
	s := fmt.Sprintf("%s: %s, %s, %d+%d tokens", a.Model, plural.Of(a.Turns, "turn"), plural.Of(a.ToolCallCount, "tool call"), a.InputTokens, a.OutputTokens)
	if a.CostUSD > 0 {
		s += fmt.Sprintf(", $%.4f", a.CostUSD)
	}
	if a.Denied > 0 {
		s += fmt.Sprintf(", %d denied", a.Denied)
	}
	return s
}
