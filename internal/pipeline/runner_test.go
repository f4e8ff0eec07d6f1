package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"

	"go.uber.org/goleak"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// behaviour is what the in-process runner does for one stage's attempt.
type behaviour func(ctx context.Context, f *fakeRunner, attempt int, input []byte, emit func(event.Data)) (pipeline.Output, error)

// fakeRunner is an in-process Runner whose behaviour is set per stage. It
// records calls, inputs, completion order and concurrency.
type fakeRunner struct {
	steps map[string]behaviour

	running    atomic.Int64 // attempts inside RunStage now
	maxRunning atomic.Int64 // highest value running reached

	mu       sync.Mutex
	calls    map[string]int      // guarded by mu
	inputs   map[string][]string // guarded by mu; per attempt
	finished []string            // guarded by mu; stage IDs in return order
	done     map[string]chan struct{}
}

func newRunner(steps map[string]behaviour) *fakeRunner {
	return &fakeRunner{
		steps:  steps,
		calls:  map[string]int{},
		inputs: map[string][]string{},
		done:   map[string]chan struct{}{},
	}
}

func (f *fakeRunner) RunStage(ctx context.Context, n *pipeline.Node, attempt int, input []byte, emit func(event.Data)) (pipeline.Output, error) {
	now := f.running.Add(1)
	for {
		m := f.maxRunning.Load()
		if now <= m || f.maxRunning.CompareAndSwap(m, now) {
			break
		}
	}
	f.mu.Lock()
	f.calls[n.ID]++
	f.inputs[n.ID] = append(f.inputs[n.ID], string(input))
	f.mu.Unlock()
	b, ok := f.steps[n.ID]
	if !ok {
		b = succeed("")
	}
	out, err := b(ctx, f, attempt, input, emit)
	f.running.Add(-1)
	f.mu.Lock()
	f.finished = append(f.finished, n.ID)
	if ch := f.doneLocked(n.ID); err == nil {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	f.mu.Unlock()
	return out, err
}

// doneCh is closed when the stage's attempt first returns successfully.
func (f *fakeRunner) doneCh(id string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.doneLocked(id)
}

func (f *fakeRunner) doneLocked(id string) chan struct{} {
	if f.done[id] == nil {
		f.done[id] = make(chan struct{})
	}
	return f.done[id]
}

func (f *fakeRunner) callCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeRunner) inputOf(id string, attempt int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inputs[id][attempt-1]
}

func succeed(data string) behaviour {
	return func(context.Context, *fakeRunner, int, []byte, func(event.Data)) (pipeline.Output, error) {
		return pipeline.Output{Data: []byte(data)}, nil
	}
}

// appendTo outputs its input followed by suffix.
func appendTo(suffix string) behaviour {
	return func(_ context.Context, _ *fakeRunner, _ int, input []byte, _ func(event.Data)) (pipeline.Output, error) {
		return pipeline.Output{Data: append(append([]byte(nil), input...), suffix...)}, nil
	}
}

var errFlaky = errors.New("flaky")

// failTimes fails the first n attempts, then succeeds with data.
func failTimes(n int, data string) behaviour {
	return func(_ context.Context, _ *fakeRunner, attempt int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
		if attempt <= n {
			return pipeline.Output{ExitCode: new(1)}, fmt.Errorf("attempt %d: %w", attempt, errFlaky)
		}
		return pipeline.Output{Data: []byte(data)}, nil
	}
}

// block waits for ctx to end, like a VM that never finishes.
func block(started chan<- string) behaviour {
	return func(ctx context.Context, _ *fakeRunner, _ int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
		if started != nil {
			started <- "started"
		}
		<-ctx.Done()
		return pipeline.Output{}, fmt.Errorf("vm stopped: %w", ctx.Err())
	}
}

// after waits until stage other has finished, then succeeds with data.
func after(other, data string) behaviour {
	return func(ctx context.Context, f *fakeRunner, _ int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
		select {
		case <-f.doneCh(other):
			return pipeline.Output{Data: []byte(data)}, nil
		case <-ctx.Done():
			return pipeline.Output{}, ctx.Err()
		}
	}
}

// gate holds the attempt until k attempts run at once (or a generous
// deadline passes), so a test observes the highest concurrency the engine
// allows instead of hoping for it.
func gate(k int64) behaviour {
	return func(ctx context.Context, f *fakeRunner, _ int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
		deadline := time.Now().Add(2 * time.Second)
		for f.maxRunning.Load() < k && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		// Stay a little longer so a limit-breaking engine would show it.
		time.Sleep(5 * time.Millisecond)
		return pipeline.Output{}, nil
	}
}

// recordingClock returns from Sleep at once and records the delays.
type recordingClock struct {
	mu     sync.Mutex
	sleeps []time.Duration // guarded by mu
}

func (c *recordingClock) Now() time.Time { return time.Now() }

func (c *recordingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

// eventLog is a Sink that keeps every event.
type eventLog struct {
	mu     sync.Mutex
	events []event.Event // guarded by mu
}

func (l *eventLog) Emit(e event.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// of returns the events of one stage, or of the run when stage is "".
func (l *eventLog) of(stage string) []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event.Event
	for _, e := range l.events {
		if e.Stage == stage {
			out = append(out, e)
		}
	}
	return out
}

func types(events []event.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = string(e.Type())
	}
	return out
}

func node(id string) pipeline.Node { return pipeline.Node{ID: id} }

func mustPipeline(t testing.TB, b *pipeline.PipelineBuilder) *pipeline.Graph {
	t.Helper()
	g, err := b.Build()
	if err != nil {
		t.Fatalf("building pipeline: %v", err)
	}
	return g
}

func statuses(r *pipeline.Report) map[string]pipeline.Status {
	out := map[string]pipeline.Status{}
	for _, s := range r.Stages {
		out[s.Name] = s.Status
	}
	return out
}
