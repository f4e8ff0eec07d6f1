package stage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/claudeauth"
	"github.com/voidbox/voidbox/internal/codexauth"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/plural"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// Detail is what a stage's report carries about its VM and command.
type Detail struct {
	Kernel        string       `json:"kernel,omitempty"`
	Accel         string       `json:"accel,omitempty"`
	QueueMS       float64      `json:"queue_ms,omitempty"` // waiting for a host-wide VM slot
	BootMS        float64      `json:"boot_ms"`
	ExecMS        float64      `json:"exec_ms"`
	OutputFrom    string       `json:"output_from,omitempty"` // "file", "stdout" or "final_text"
	StdoutDropped int64        `json:"stdout_dropped_bytes,omitempty"`
	Agent         *AgentDetail `json:"agent,omitempty"` // agent stages: turns, tokens, cost
	// Network is set for a box with a network: its flows and bytes.
	Network *NetDetail `json:"network,omitempty"`
	// Outputs are the host directories of the box's outputs, by name.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Image is the digest of the OCI image the VM booted from.
	Image string `json:"image,omitempty"`
}

// Host is what every stage's VM shares, resolved once per run.
type Host struct {
	Sandbox sandbox.Host
	// Kernel and Initramfs are the guest image of command stages (and of
	// boxes that set none); AgentInitramfs that of built-in agent stages.
	Kernel, Initramfs, AgentInitramfs string
	CacheDir                          string // where the Claude Code flavour is
}

// Booter boots a stage's VM: sandbox.Boot on a real host, an in-process
// guest on the other end of a pipe in tests.
type Booter interface {
	Boot(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error)
}

// BootFunc adapts a function to Booter.
type BootFunc func(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error)

// Boot calls f.
func (f BootFunc) Boot(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
	return f(ctx, cfg)
}

// Options tune Run.
type Options struct {
	Input  []byte
	Events event.Sink
	// Boot boots VMs (default sandbox.Boot).
	Boot Booter
	// Warm, if set, starts the first attempt of every stage instead of
	// Boot (warm starts from a template snapshot); a retry boots through
	// Boot, a clean cold VM.
	Warm Booter
	// OutputsDir holds the host directories of box outputs (default: a new
	// temporary directory, kept after the run; each stage's report names
	// its outputs' directories).
	OutputsDir string
	// Terminal is the user's terminal, for an interactive agent stage (a
	// run of that one stage).
	Terminal *Terminal
}

// Run executes g, whose nodes are the boxes of stages (by node ID), each
// attempt in a VM of its own on host.
func Run(ctx context.Context, g *pipeline.Graph, stages map[string]Staged, host Host, o Options) (*pipeline.Report, error) {
	r := &Runner{host: host, stages: stages, boot: o.Boot, warm: o.Warm, run: g.Name, terminal: o.Terminal,
		deps:        graphDeps(g),
		claudeLogin: sync.OnceValues(func() (*claudeauth.Source, error) { return claudeauth.Open(claudeauth.Options{}) }),
		codexLogin:  sync.OnceValues(func() (*codexauth.Login, error) { return codexauth.Open(codexauth.Options{}) })}
	if r.boot == nil {
		r.boot = BootFunc(sandbox.Boot)
	}
	var err error
	if r.outputs, err = newOutputDirs(stages, o.OutputsDir); err != nil {
		return nil, err
	}
	return pipeline.Run(ctx, g, r, pipeline.Options{Input: o.Input, Sink: o.Events})
}

// Preflight catches, before any VM boots, what would fail every attempt of
// a stage: an agent box whose provider key is missing or endpoint invalid,
// or whose runtime's image is not built.
func Preflight(stages map[string]Staged, order []string, cacheDir string) error {
	var errs []error
	for _, name := range order {
		a := stages[name].Box.Agent
		if a == nil {
			continue
		}
		prov, err := a.Provider()
		if err == nil && prov.Kind == llm.KindClaudePersonal {
			// Finds a missing or corrupt login before any VM boots.
			prov.Token, err = claudeauth.Open(claudeauth.Options{})
		}
		if err == nil {
			prov, err = codexLogin(a, prov, func() (*codexauth.Login, error) { return codexauth.Open(codexauth.Options{}) })
		}
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
				"set it, name another variable with api_key_env, or use a local provider such as ollama", sandbox.ErrInvalid, prov.Kind, env)
			if a.runtime() == RuntimeCodex {
				// The seed copied ~/.codex/auth.json into the VM; voidbox
				// keeps the login on the host (codexLogin), unless the box
				// named a key variable of its own.
				err = fmt.Errorf("%w: runtime codex needs an OpenAI API key in %s or a Codex login (`codex login`, "+
					"in $CODEX_HOME or ~/.codex) on this host; neither enters the VM", sandbox.ErrInvalid, env)
				if a.LLM.APIKeyEnv != "" {
					err = fmt.Errorf("%w: runtime codex needs the OpenAI API key in %s (api_key_env) on this host; it never enters the VM "+
						"(without api_key_env, a Codex login on this host is used when OPENAI_API_KEY is unset)", sandbox.ErrInvalid, env)
				}
			}
		} else if err != nil {
			err = fmt.Errorf("%w: %w", sandbox.ErrInvalid, err)
		}
		if err == nil && (a.runtime() == RuntimeClaudeCode || a.runtime() == RuntimeCodex) {
			_, err = runtimeFor(a.runtime(), cacheDir, prov.Kind) // says how to build a missing image
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stage %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// NeedsAgentImage reports whether stages include built-in agent stages
// (which boot the image with voidbox-agent in it).
func NeedsAgentImage(stages map[string]Staged) bool {
	for _, st := range stages {
		if a := st.Box.Agent; a != nil && a.runtime() == RuntimeVoidbox {
			return true
		}
	}
	return false
}

// Runner boots one VM per stage attempt; it is the pipeline.Runner of Run.
type Runner struct {
	run     string // the graph's name: attach finds a stage by run and stage
	host    Host
	stages  map[string]Staged
	boot    Booter
	warm    Booter // first attempts, when set
	outputs *outputDirs
	// terminal is Options.Terminal (interactive agent stages).
	terminal *Terminal
	// claudeLogin is the host's Claude login, opened at the first
	// claude-personal stage and shared by all of them, so that concurrent
	// stages refresh an expired token once.
	claudeLogin func() (*claudeauth.Source, error)
	// codexLogin is the host's Codex login, likewise shared by the codex
	// stages that use it (codexLogin in codexlogin.go).
	codexLogin func() (*codexauth.Login, error)

	// deps are each stage's direct dependencies (graphDeps); read-only.
	deps map[string][]string

	mu      sync.Mutex
	budgets map[string]*llm.Budget // by box name, for the run; guarded by mu
	// services are the ready services' ports by stage name, for their
	// dependants (services.go). Guarded by mu.
	services serviceEndpoints
}

// budget is box's model budget for the run, shared by its attempts; nil
// when the box sets no limits.
func (r *Runner) budget(b *Box) *llm.Budget {
	if b.Agent == nil || b.Agent.LLM.Limits.IsZero() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.budgets == nil {
		r.budgets = map[string]*llm.Budget{}
	}
	bg, ok := r.budgets[b.Name]
	if !ok {
		bg = llm.NewBudget(b.Agent.LLM.Limits)
		r.budgets[b.Name] = bg
	}
	return bg
}

// config is the boot of one attempt of b, from the host's image unless
// the box gives its own, with its OCI skills and its outputs and inputs
// mounted (output directories emptied: each attempt starts clean). outs
// are the output directories by name.
func (r *Runner) config(b *Box, initramfs string) (cfg sandbox.Config, outs map[string]string, err error) {
	kernel := r.host.Kernel
	if b.Kernel != "" {
		kernel, initramfs = b.Kernel, b.Initramfs
	}
	p, outs, err := r.outputs.mounts(b)
	if err != nil {
		return sandbox.Config{}, nil, pipeline.Permanent(err)
	}
	p = r.withServices(b.Name, withServicePorts(b, p))
	cfg = r.host.Sandbox.Config(b.Name, p, kernel, initramfs)
	cfg.ImageMounts = b.imageMounts()
	return cfg, outs, nil
}

// bootVM boots cfg, marking errors no retry would fix as permanent, and
// starts what watches the VM while it runs (vm.stats). The VM's own events
// (its network's) go to emit too. A first attempt starts through r.warm
// when set. release stops the watchers, closes the VM and fills in d's
// network counters (final once the VM is gone); it may be called more
// than once.
func (r *Runner) bootVM(ctx context.Context, cfg sandbox.Config, attempt int, emit func(event.Data), tap *attachTap) (_ *sandbox.Sandbox, _ *Detail, release func(), _ error) {
	cfg.OnEvent = emit
	boot := r.boot
	if r.warm != nil && attempt <= 1 {
		boot = r.warm
	}
	sb, err := boot.Boot(ctx, withQueueEvents(cfg, emit))
	if err != nil {
		if errors.Is(err, sandbox.ErrInvalid) || errors.Is(err, sandbox.ErrMissingDependency) {
			err = pipeline.Permanent(err)
		}
		return nil, nil, nil, fmt.Errorf("starting VM: %w", err)
	}
	info := sb.Info()
	d := &Detail{Kernel: info.Kernel, Accel: info.Accel, QueueMS: ms(info.QueueWait), BootMS: ms(info.BootTime), Image: info.Image}
	emit(event.VMBooted{BootMS: d.BootMS, Kernel: info.Kernel, Accel: info.Accel})
	stopStats := watchStats(sb, emit)
	stopAttach := tap.serve(sb)
	var once sync.Once
	return sb, d, func() {
		once.Do(func() {
			stopAttach()
			stopStats()
			closeVM(sb, d)
		})
	}, nil
}

// RunStage runs one attempt of node n.
func (r *Runner) RunStage(ctx context.Context, n *pipeline.Node, attempt int, input []byte, emit func(event.Data)) (pipeline.Output, error) {
	return r.runAttempt(ctx, n, attempt, input, emit, nil)
}

// runAttempt runs one attempt of node n; ready is set for a service.
func (r *Runner) runAttempt(ctx context.Context, n *pipeline.Node, attempt int, input []byte, emit func(event.Data), ready func(pipeline.Output)) (pipeline.Output, error) {
	st, ok := r.stages[n.ID]
	if !ok {
		return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("no box for stage %q", n.ID))
	}
	tap := &attachTap{run: r.run, stage: n.ID, attempt: attempt}
	emit = tap.wrap(emit)
	if st.Box.Agent != nil {
		return r.runAgent(ctx, st, attempt, input, emit, tap, ready)
	}
	cfg, outs, err := r.config(st.Box, r.host.Initramfs)
	if err != nil {
		return pipeline.Output{}, err
	}
	sb, d, release, err := r.bootVM(ctx, cfg, attempt, emit, tap)
	if err != nil {
		return pipeline.Output{}, err
	}
	defer release()
	d.Outputs = outs
	if _, err := imageSkills(ctx, sb, st.Box.Images); err != nil {
		return pipeline.Output{Detail: d}, pipeline.Permanent(err)
	}
	return r.runCommand(ctx, sb, st, attempt, input, emit, d, ready)
}

// runCommand runs a command stage in sb; ready is set for a service.
func (r *Runner) runCommand(ctx context.Context, sb *sandbox.Sandbox, st Staged, attempt int, input []byte, emit func(event.Data), d *Detail, ready func(pipeline.Output)) (pipeline.Output, error) {
	box := st.Box
	cmd := sandbox.Cmd{Args: box.Exec, Env: stageEnv(box.Name, attempt)}
	if input != nil {
		if st.IO.Stdin {
			cmd.Stdin = bytes.NewReader(input)
		}
		if st.IO.InputFile {
			if err := sb.WriteFile(ctx, InputFile, input, 0o644); err != nil {
				return pipeline.Output{Detail: d}, fmt.Errorf("writing %s: %w", InputFile, err)
			}
		}
	}
	var stdout bytes.Buffer
	cmd.Stdout = &emitWriter{stream: "stdout", emit: emit, keep: &stdout}
	tail := &tailWriter{}
	cmd.Stderr = &emitWriter{stream: "stderr", emit: emit, keep: tail}
	res, err := execute(ctx, sb, cmd, box, r.readyHook(box, sb, ready), d)
	if err != nil {
		return pipeline.Output{Detail: d}, err
	}
	emitDenials(res, emit)
	d.ExecMS = ms(res.Duration)
	d.StdoutDropped = res.StdoutDropped
	out := pipeline.Output{ExitCode: new(res.ExitCode), Data: stdout.Bytes(), Detail: d}
	if res.TimedOut || res.ExitCode != 0 {
		out.StderrTail = tail.lines()
	}
	switch {
	case res.TimedOut:
		return out, fmt.Errorf("command timed out after %v", sb.Policy().Timeout)
	case res.OOMKilled && res.ExitCode != 0:
		return out, fmt.Errorf("%s: %w", res.Reason(), &pipeline.ExitError{Code: res.ExitCode})
	case res.ExitCode != 0:
		if last := tail.last(); last != "" {
			return out, fmt.Errorf("%w: %s", &pipeline.ExitError{Code: res.ExitCode}, last)
		}
		return out, &pipeline.ExitError{Code: res.ExitCode}
	}
	d.OutputFrom = "stdout"
	if st.IO.OutputFile {
		if _, ok, err := sb.Stat(ctx, box.Output()); err != nil {
			return out, err
		} else if ok {
			data, err := sb.ReadFile(ctx, box.Output())
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
	emit   func(event.Data)
	keep   io.Writer
}

func (w *emitWriter) Write(p []byte) (int, error) {
	w.emit(event.NewExecOutput(w.stream, p))
	if w.keep != nil {
		w.keep.Write(p)
	}
	return len(p), nil
}

// emitDenials reports the programs the guest kernel's exec check refused
// to the command or to a process it started.
func emitDenials(res *sandbox.Result, emit func(event.Data)) {
	for _, d := range res.Denied {
		emit(event.ExecDenied{PID: d.PID, Program: d.Program, Path: d.Path, Reason: d.Reason, Killed: d.Killed})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Summary is the one-line description the CLI report shows for a stage.
func (d *Detail) Summary() string {
	var parts []string
	if a := d.Agent; a != nil {
		parts = append(parts, a.summary())
	}
	if d.Network != nil {
		parts = append(parts, d.Network.Summary())
	}
	return strings.Join(parts, "; ")
}

func (a *AgentDetail) summary() string {
	s := fmt.Sprintf("%s: %s, %s, %d+%d tokens", a.Model, plural.Of(a.Turns, "turn"), plural.Of(a.ToolCallCount, "tool call"), a.InputTokens, a.OutputTokens)
	if a.CostUSD > 0 {
		s += fmt.Sprintf(", $%.4f", a.CostUSD)
	}
	if a.Denied > 0 {
		s += fmt.Sprintf(", %d denied", a.Denied)
	}
	return s
}
