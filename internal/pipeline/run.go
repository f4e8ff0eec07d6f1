package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/voidbox/voidbox/internal/event"
	"golang.org/x/sync/semaphore"
)

// Runner performs one attempt of a stage. The engine calls it from several
// goroutines at once (one per running stage).
type Runner interface {
	// RunStage runs attempt (1-based) of n. input is the combined output of
	// n's Inputs, the run's input for an entry node, or nil; it may be shared
	// with other stages and must not be modified. RunStage must
	// return soon after ctx ends (cancellation or the node's timeout),
	// having released what it started (its VM). emit adds runner events
	// (exec.output, agent.turn, ...) to the run's stream; the engine fills
	// in time, run, stage and attempt. A non-zero Output.ExitCode with a nil
	// error still fails the attempt. Wrap errors that retrying cannot fix
	// with Permanent.
	RunStage(ctx context.Context, n *Node, attempt int, input []byte, emit func(event.Data)) (Output, error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, n *Node, attempt int, input []byte, emit func(event.Data)) (Output, error)

// RunStage calls f.
func (f RunnerFunc) RunStage(ctx context.Context, n *Node, attempt int, input []byte, emit func(event.Data)) (Output, error) {
	return f(ctx, n, attempt, input, emit)
}

// Output is what one attempt produced.
type Output struct {
	// Data is handed to dependent stages (the runner decides whether it is
	// output.json or stdout).
	Data []byte
	// ExitCode is the command's exit status; nil when no command ran to an
	// end (the VM never booted, or the run was cancelled first), so that a
	// report never shows an exit code nothing produced.
	ExitCode *int
	// Detail is runner-specific (agent token counts, VM timings); the
	// engine copies it into the StageReport untouched.
	Detail any
	// StderrTail is the end of a failed attempt's stderr (a few lines,
	// control characters removed): where a program says why it failed.
	StderrTail []string
}

// Options tune one Run. The zero value works.
type Options struct {
	// Input is handed to the graph's Entry nodes.
	Input []byte
	// Sink receives the event stream; nil discards it.
	Sink event.Sink
	// Clock defaults to the wall clock.
	Clock Clock
}

// Run executes g with runner and returns its report. The report is nil only
// when g is invalid (the error then matches ErrInvalid). Otherwise the error
// is nil when the run succeeded; for a failed run it joins one *StageError
// per failed stage; for a cancelled run it wraps the context's cause.
//
// Run returns only after every RunStage call it made has returned.
func Run(ctx context.Context, g *Graph, runner Runner, opts Options) (*Report, error) {
	c, err := compile(g)
	if err != nil {
		return nil, err
	}
	svc, _ := runner.(ServiceRunner)
	for _, n := range g.Nodes {
		if n.Service && svc == nil {
			return nil, fmt.Errorf("%w: stage %q is a service, and this runner runs no services", ErrInvalid, n.ID)
		}
	}
	e := &engine{
		c:      c,
		runner: runner,
		svc:    svc,
		sink:   opts.Sink,
		clock:  opts.Clock,
		input:  opts.Input,
		// One final result per stage, plus one ready result per service.
		results: make(chan stageResult, 2*len(g.Nodes)),
	}
	if e.sink == nil {
		e.sink = event.Discard
	}
	if e.clock == nil {
		e.clock = realClock{}
	}
	if g.MaxParallel > 0 {
		e.sem = semaphore.NewWeighted(int64(g.MaxParallel))
	}
	return e.run(ctx)
}

// engine is the state of one Run.
type engine struct {
	c       *compiled
	runner  Runner
	svc     ServiceRunner // runner, when it runs services
	sink    event.Sink
	clock   Clock
	input   []byte
	sem     *semaphore.Weighted // nil: no cap on concurrent attempts
	results chan stageResult    // stage goroutines → scheduler, one each

	// Owned by the scheduler (the goroutine in Run); stage goroutines get
	// copies of what they need.
	// stages is indexed like Graph.Nodes. A launched stage stays
	// StatusPending here until its result arrives; it cannot be skipped
	// meanwhile, since all its dependencies had succeeded.
	stages  []StageReport
	errs    []error // final error of each failed stage
	waiting []int   // unfinished dependencies per node
}

// stageResult is what a stage goroutine hands back to the scheduler.
type stageResult struct {
	idx int
	rep StageReport
	err error // set when rep.Status is failed or cancelled
	// ready: a service became ready (rep.Output is its output); its final
	// result comes later.
	ready bool
}

func (e *engine) emit(ev event.Event) {
	if ev.Time.IsZero() {
		ev.Time = e.clock.Now()
	}
	ev.Run = e.c.g.Name
	e.sink.Emit(ev)
}

func (e *engine) run(ctx context.Context) (*Report, error) {
	g := e.c.g
	rep := &Report{Name: g.Name, Started: e.clock.Now()}
	names := make([]string, len(g.Nodes))
	e.stages = make([]StageReport, len(g.Nodes))
	e.waiting = make([]int, len(g.Nodes))
	e.errs = make([]error, len(g.Nodes))
	var needs map[string][]string
	for i, n := range g.Nodes {
		names[i] = n.ID
		e.stages[i] = StageReport{Name: n.ID, Status: StatusPending, Group: n.Group}
		e.waiting[i] = len(e.c.deps[i])
		if dep := append(slices.Clone(n.Inputs), n.After...); len(dep) > 0 {
			if needs == nil {
				needs = map[string][]string{}
			}
			needs[n.ID] = dep
		}
	}
	e.emit(event.Event{Time: rep.Started, Data: event.RunStarted{Stages: names, MaxParallel: g.MaxParallel, Needs: needs}})

	// Services run under svcCtx, which the scheduler ends once only ready
	// services are left running (their work for the run is done).
	svcCtx, stopServices := context.WithCancelCause(ctx)
	defer stopServices(nil)
	tasks := 0 // non-service stages
	for _, n := range g.Nodes {
		if !n.Service {
			tasks++
		}
	}
	var wg sync.WaitGroup
	inflight := 0
	ready := map[int]bool{} // services ready and still running
	launch := func(i int) {
		e.emit(event.Event{Stage: g.Nodes[i].ID, Data: event.StageQueued{}})
		input := e.inputFor(i)
		inflight++
		if g.Nodes[i].Service {
			wg.Go(func() { e.results <- e.runService(ctx, svcCtx, i, input) })
			return
		}
		wg.Go(func() { e.results <- e.runStage(ctx, i, input) })
	}
	startDependents := func(i int) {
		for _, d := range e.c.dependents[i] {
			e.waiting[d]--
			if e.waiting[d] == 0 && e.stages[d].Status == StatusPending && ctx.Err() == nil {
				launch(d)
			}
		}
	}
	for i := range g.Nodes {
		if e.waiting[i] == 0 && ctx.Err() == nil {
			launch(i)
		}
	}
	for inflight > 0 {
		// A run of services only lives until it is cancelled; otherwise
		// the services stop once nothing but them is left running.
		if tasks > 0 && inflight == len(ready) {
			stopServices(errRunDone)
		}
		res := <-e.results
		i := res.idx
		if res.ready {
			ready[i] = true
			e.stages[i].Output = res.rep.Output
			startDependents(i)
			continue
		}
		inflight--
		delete(ready, i)
		e.stages[i], e.errs[i] = res.rep, res.err
		switch res.rep.Status {
		case StatusSucceeded:
			if !g.Nodes[i].Service { // a service's dependants started when it was ready
				startDependents(i)
			}
		case StatusFailed:
			e.skipDependents(i)
		}
	}
	wg.Wait()
	// Whatever is still pending was waiting for a stage that was cancelled,
	// or was ready when the context ended: the run was cancelled.
	for i := range e.stages {
		if s := &e.stages[i]; s.Status == StatusPending {
			s.Status, s.Reason = StatusCancelled, "run cancelled before the stage started"
			e.emit(event.Event{Stage: s.Name, Data: event.StageCancelled{Reason: s.Reason}})
		}
	}
	return e.finish(ctx, rep)
}

// inputFor builds node i's input from its inputs' outputs (or the run input).
func (e *engine) inputFor(i int) []byte {
	if e.c.entry[i] {
		return e.input
	}
	outs := make([][]byte, len(e.c.inputs[i]))
	for k, j := range e.c.inputs[i] {
		outs[k] = e.stages[j].Output
	}
	return combine(e.c.g.Nodes[i].Combine, outs)
}

// skipDependents marks every pending stage downstream of the failed stage i
// as skipped, naming i as the reason.
func (e *engine) skipDependents(i int) {
	failed := e.c.g.Nodes[i].ID
	queue := append([]int(nil), e.c.dependents[i]...)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		s := &e.stages[d]
		if s.Status != StatusPending {
			continue
		}
		s.Status, s.Reason = StatusSkipped, fmt.Sprintf("stage %q failed", failed)
		e.emit(event.Event{Stage: s.Name, Data: event.StageSkipped{Reason: s.Reason, FailedStage: failed}})
		queue = append(queue, e.c.dependents[d]...)
	}
}

// finish settles the run's status, final output and error.
func (e *engine) finish(ctx context.Context, rep *Report) (*Report, error) {
	rep.Stages = e.stages
	rep.Status = StatusSucceeded
	var failed []error
	for i, s := range e.stages {
		switch s.Status {
		case StatusCancelled:
			rep.Status = StatusCancelled
		case StatusFailed:
			if rep.Status != StatusCancelled {
				rep.Status = StatusFailed
			}
			failed = append(failed, &StageError{Stage: s.Name, Attempts: s.Attempts, Err: e.errs[i]})
		}
	}
	var err error
	switch rep.Status {
	case StatusCancelled:
		err = fmt.Errorf("run %q cancelled: %w", rep.Name, context.Cause(ctx))
	case StatusFailed:
		err = fmt.Errorf("run %q: %w", rep.Name, errors.Join(failed...))
	}
	if err != nil {
		rep.Error = err.Error()
	}
	rep.Output = e.finalOutput()
	rep.Finished = e.clock.Now()
	rep.Duration = rep.Finished.Sub(rep.Started)
	e.emit(event.Event{Time: rep.Finished, Data: event.RunFinished{Status: string(rep.Status),
		DurationMS: rep.Duration.Milliseconds(), Error: rep.Error}})
	return rep, err
}

// finalOutput combines the Output stages, or returns nil if one of them did
// not succeed.
func (e *engine) finalOutput() []byte {
	if len(e.c.output) == 0 {
		return nil
	}
	outs := make([][]byte, len(e.c.output))
	for k, i := range e.c.output {
		if e.stages[i].Status != StatusSucceeded {
			return nil
		}
		outs[k] = e.stages[i].Output
	}
	return combine(e.c.g.OutputMode, outs)
}
