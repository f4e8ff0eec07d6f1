package voidbox

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
	"github.com/voidbox/voidbox/internal/warm"

	"github.com/voidbox/voidbox/internal/pipeline"
)

// Report is the outcome of a pipeline or workflow run (see docs/events.md
// for its JSON form).
type Report = pipeline.Report

// StageReport is the outcome of one stage.
type StageReport = pipeline.StageReport

// Event is one entry of a run's event stream: when, where (run, stage,
// attempt) and what (Data, one of the typed payloads of the event types in
// docs/events.md). Its JSON form is the --events line format.
type Event = event.Event

// EventData is an event's typed payload (EventRunStarted, EventVMBooted, …).
type EventData = event.Data

// EventSink receives a run's events; it must be safe for concurrent use.
type EventSink = event.Sink

// Plan is the resolved shape of a run: stages, order, parallel groups, limits.
type Plan = pipeline.Plan

// Run statuses.
const (
	StatusSucceeded = pipeline.StatusSucceeded
	StatusFailed    = pipeline.StatusFailed
	StatusCancelled = pipeline.StatusCancelled
	StatusSkipped   = pipeline.StatusSkipped
)

// RunOptions tune a run. The zero value works.
type RunOptions struct {
	// Input is handed to the first stage(s) as /workspace/input.json.
	Input []byte
	// Events receives the run's event stream.
	Events EventSink
	// Host says how this host runs the stages' VMs (a box's own Image wins).
	Host HostOptions
	// OutputsDir holds the host directories of box outputs (Box.Output);
	// default a new temporary directory, kept after the run.
	OutputsDir string
	// VMSlots, when set, caps the run's VMs together with everything else
	// that shares it: each VM takes a slot before it boots and gives it
	// back once its QEMU has exited. A daemon shares one among its runs.
	VMSlots VMSlots
	// Terminal is the user's terminal, for a pipeline of one interactive
	// box (Box.Interactive); the run fails without one.
	Terminal *Terminal
}

// Terminal is the user's terminal an interactive box runs on: Keys is what
// the user types (the terminal in raw mode), Screen gets what the guest
// terminal shows (filter it, as voidbox shell does), TTY its size.
type Terminal struct {
	Keys   io.Reader
	Screen io.Writer
	TTY    *TTY
}

// VMSlots hands out the right to run one VM.
type VMSlots interface {
	// Acquire waits for a free slot, or returns ctx's error.
	Acquire(ctx context.Context) error
	// Release gives back a slot Acquire handed out.
	Release()
}

// Pipeline runs boxes one after another, each in a fresh micro-VM, the output
// of one stage becoming the input of the next; FanOut runs several boxes in
// parallel and hands the next stage a JSON array of their outputs, in
// declaration order.
type Pipeline struct {
	name        string
	groups      [][]*Box
	maxParallel int
}

// NewPipeline starts an empty pipeline; add stages with Pipe and FanOut:
//
//	voidbox.NewPipeline("report").Pipe(fetch).FanOut(a, b).Pipe(merge)
func NewPipeline(name string) *Pipeline { return &Pipeline{name: name} }

// Pipe appends a sequential stage.
func (p *Pipeline) Pipe(b *Box) *Pipeline { p.groups = append(p.groups, []*Box{b}); return p }

// FanOut appends a parallel stage of several boxes.
func (p *Pipeline) FanOut(bs ...*Box) *Pipeline { p.groups = append(p.groups, bs); return p }

// MaxParallel caps how many VMs run at once (0: no cap).
func (p *Pipeline) MaxParallel(n int) *Pipeline { p.maxParallel = n; return p }

func (p *Pipeline) graph() (*pipeline.Graph, map[string]stage.Staged, error) {
	var errs []error
	stages := map[string]stage.Staged{}
	b := pipeline.NewPipeline(p.name).MaxParallel(p.maxParallel)
	produced := map[string]string{} // output name → box, of earlier groups
	for _, g := range p.groups {
		errs = append(errs, p.checkIO(g, produced)...)
		var nodes []pipeline.Node
		for _, box := range g {
			if box == nil {
				errs = append(errs, fmt.Errorf("pipeline %q: %w: nil box", p.name, ErrInvalid))
				continue
			}
			if err := box.validate(); err != nil {
				errs = append(errs, err)
			}
			st := box.staged(stage.IO{InputFile: true, OutputFile: true})
			stages[st.Box.Name] = st
			nodes = append(nodes, st.Box.Node())
		}
		if len(nodes) == 1 && len(g) == 1 {
			b.Pipe(nodes[0])
		} else if len(nodes) > 0 {
			b.FanOut(nodes...)
		}
	}
	if len(p.groups) == 0 {
		errs = append(errs, fmt.Errorf("pipeline %q: %w: no stages", p.name, ErrInvalid))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	g, err := b.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline %q: %w: %w", p.name, ErrInvalid, err)
	}
	return g, stages, nil
}

// checkIO checks the inputs of a group's boxes against the outputs of
// earlier groups, then adds the group's outputs to produced.
func (p *Pipeline) checkIO(g []*Box, produced map[string]string) []error {
	var errs []error
	for _, box := range g {
		if box == nil {
			continue
		}
		for _, in := range box.b.Inputs {
			if _, ok := produced[in.From]; !ok {
				errs = append(errs, fmt.Errorf("pipeline %q: box %q: %w: input %q is no output of a box in an earlier stage", p.name, box.b.Name, ErrInvalid, in.From))
			}
		}
	}
	for _, box := range g {
		if box == nil {
			continue
		}
		for _, o := range box.b.Outputs {
			if prev, dup := produced[o.Name]; dup {
				errs = append(errs, fmt.Errorf("pipeline %q: box %q: %w: output %q is also box %q's", p.name, box.b.Name, ErrInvalid, o.Name, prev))
			}
			produced[o.Name] = box.b.Name
		}
	}
	return errs
}

// Plan returns the stages in order with their parallel groups and limits.
func (p *Pipeline) Plan() (*Plan, error) {
	g, _, err := p.graph()
	if err != nil {
		return nil, err
	}
	return pipeline.NewPlan(g)
}

// Run runs the pipeline. The report is returned whenever the run started;
// the error says why the run failed or was cancelled.
func (p *Pipeline) Run(ctx context.Context, o RunOptions) (*Report, error) {
	g, stages, err := p.graph()
	if err != nil {
		return nil, err
	}
	return run(ctx, g, stages, o)
}

// Workflow runs boxes in the order their dependencies allow (a DAG): a step
// starts when the steps it depends on succeeded; StdinFrom pipes one step's
// stdout into another's stdin. Each step runs in its own micro-VM.
type Workflow struct {
	name        string
	steps       []pipeline.Step
	boxes       []*Box
	output      string
	maxParallel int
}

// NewWorkflow starts an empty workflow.
func NewWorkflow(name string) *Workflow { return &Workflow{name: name} }

// Step adds a step that runs after dependsOn (ordering only).
func (w *Workflow) Step(b *Box, dependsOn ...string) *Workflow {
	return w.StepFrom(b, "", dependsOn...)
}

// StepFrom adds a step whose stdin is the stdout of step stdinFrom.
func (w *Workflow) StepFrom(b *Box, stdinFrom string, dependsOn ...string) *Workflow {
	w.boxes = append(w.boxes, b)
	w.steps = append(w.steps, pipeline.Step{DependsOn: dependsOn, StdinFrom: stdinFrom})
	return w
}

// Output names the step whose stdout is the run's output.
func (w *Workflow) Output(step string) *Workflow { w.output = step; return w }

// MaxParallel caps how many VMs run at once (0: no cap).
func (w *Workflow) MaxParallel(n int) *Workflow { w.maxParallel = n; return w }

func (w *Workflow) graph() (*pipeline.Graph, map[string]stage.Staged, error) {
	var errs []error
	stages := map[string]stage.Staged{}
	steps := make([]pipeline.Step, len(w.steps))
	for i, s := range w.steps {
		box := w.boxes[i]
		if box == nil {
			errs = append(errs, fmt.Errorf("workflow %q: %w: nil box", w.name, ErrInvalid))
			continue
		}
		if len(box.b.Outputs) > 0 || len(box.b.Inputs) > 0 {
			errs = append(errs, fmt.Errorf("workflow %q: box %q: %w: outputs and inputs are for pipeline boxes", w.name, box.b.Name, ErrInvalid))
		}
		if err := box.validate(); err != nil {
			errs = append(errs, err)
		}
		st := box.staged(stage.IO{Stdin: true})
		stages[st.Box.Name] = st
		s.Node = st.Box.Node()
		steps[i] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	g, err := pipeline.NewWorkflow(w.name, steps, w.output)
	if err != nil {
		return nil, nil, fmt.Errorf("workflow %q: %w: %w", w.name, ErrInvalid, err)
	}
	g.MaxParallel = w.maxParallel
	return g, stages, nil
}

// Plan returns the steps in topological order with their levels and limits.
func (w *Workflow) Plan() (*Plan, error) {
	g, _, err := w.graph()
	if err != nil {
		return nil, err
	}
	return pipeline.NewPlan(g)
}

// Run runs the workflow.
func (w *Workflow) Run(ctx context.Context, o RunOptions) (*Report, error) {
	g, stages, err := w.graph()
	if err != nil {
		return nil, err
	}
	return run(ctx, g, stages, o)
}

// run checks what would fail every stage, resolves the host once and
// executes the graph. Like New it changes nothing on the host: without a
// prepared guest image it fails with ErrMissingDependency.
func run(ctx context.Context, g *pipeline.Graph, stages map[string]stage.Staged, o RunOptions) (*Report, error) {
	order := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		order[i] = n.ID
	}
	if err := checkInteractive(stages, order, o.Terminal); err != nil {
		return nil, err
	}
	// Preflight first: a missing key should not wait for the host.
	if err := stage.Preflight(stages, order, o.Host.CacheDir); err != nil {
		return nil, err
	}
	if root, err := guestimage.CacheRoot(o.Host.CacheDir); err == nil {
		if err := stage.FetchRemoteSkills(ctx, stages, order, root, ""); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	h, err := resolveHost(ctx, o.Host, stage.NeedsAgentImage(stages))
	if err == nil {
		err = checkImages(ctx, h.Images, stages, order)
	}
	if err != nil {
		return nil, err
	}
	host := stage.Host{Sandbox: h.Host, Kernel: h.base.Kernel, Initramfs: h.base.Initramfs,
		AgentInitramfs: h.agentImage.Initramfs, CacheDir: o.Host.CacheDir}
	so := stage.Options{Input: o.Input, Events: o.Events, OutputsDir: o.OutputsDir}
	if o.Terminal != nil {
		so.Terminal = &stage.Terminal{Keys: o.Terminal.Keys, Screen: o.Terminal.Screen, TTY: o.Terminal.TTY}
	}
	cold, warmBoot := stage.BootFunc(sandbox.Boot), stage.BootFunc(nil)
	if o.Host.Warm != nil {
		warmBoot = o.Host.Warm.s.Boot
	} else if !o.Host.NoWarm {
		w, err := warm.New("", warm.Options{Logger: o.Host.Logger, Pool: o.Host.WarmPool})
		if err != nil {
			return nil, err
		}
		defer w.Close()
		warmBoot = w.Boot
	}
	if o.VMSlots != nil {
		sb := &slotBooter{slots: o.VMSlots, boot: cold}
		defer sb.wait()
		cold = sb.Boot
		if warmBoot != nil {
			wb := &slotBooter{slots: o.VMSlots, boot: warmBoot}
			defer wb.wait()
			warmBoot = wb.Boot
		}
	}
	so.Boot = cold
	if warmBoot != nil {
		so.Warm = warmBoot
	}
	return stage.Run(ctx, g, stages, host, so)
}

// checkInteractive: an interactive box runs alone, on a terminal.
func checkInteractive(stages map[string]stage.Staged, order []string, t *Terminal) error {
	for _, name := range order {
		a := stages[name].Box.Agent
		if a == nil || !a.Interactive {
			continue
		}
		switch {
		case len(order) > 1:
			return fmt.Errorf("%w: box %q is interactive: it runs alone (a pipeline of that one box)", ErrInvalid, name)
		case t == nil || t.Keys == nil || t.Screen == nil:
			return fmt.Errorf("%w: box %q is interactive: it needs a terminal (RunOptions.Terminal; from the command line, voidbox shell --file SPEC)", ErrInvalid, name)
		}
	}
	return nil
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc = event.SinkFunc

// DecodeEvent reads one event in its JSON form (a line of --events).
func DecodeEvent(line []byte) (Event, error) { return event.Decode(line) }
