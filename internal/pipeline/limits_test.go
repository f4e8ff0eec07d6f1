package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestRetryThenSucceed(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("r").Pipe(pipeline.Node{ID: "a", Retries: 3, Backoff: 10 * time.Millisecond}))
	r := newRunner(map[string]behaviour{"a": failTimes(1, "ok")})
	clock := &recordingClock{}
	log := &eventLog{}

	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Clock: clock, Sink: log})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if s := rep.Stage("a"); s.Attempts != 2 || s.Status != pipeline.StatusSucceeded || string(s.Output) != "ok" {
		t.Errorf("stage a = %+v, want succeeded on attempt 2", s)
	}
	if !slices.Equal(clock.sleeps, []time.Duration{10 * time.Millisecond}) {
		t.Errorf("backoff sleeps = %v, want [10ms]", clock.sleeps)
	}
	retry := log.of("a")[2]
	if r, ok := retry.Data.(event.StageRetrying); !ok || retry.Attempt != 1 || r.DelayMS != 10 || !strings.Contains(r.Error, "flaky") {
		t.Errorf("retry event = %+v", retry)
	}
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("r").Pipe(pipeline.Node{ID: "a", Retries: 5, Backoff: 10 * time.Second}))
	r := newRunner(map[string]behaviour{"a": failTimes(99, "")})
	clock := &recordingClock{}
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Clock: clock})
	if !errors.Is(err, errFlaky) {
		t.Fatalf("error = %v, want the runner's error", err)
	}
	if a := rep.Stage("a").Attempts; a != 6 {
		t.Errorf("attempts = %d, want 1 + 5 retries", a)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	if !slices.Equal(clock.sleeps, want) {
		t.Errorf("backoff sleeps = %v, want %v", clock.sleeps, want)
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("r").Pipe(pipeline.Node{ID: "a", Retries: 5}))
	errSpec := errors.New("no kernel")
	r := newRunner(map[string]behaviour{"a": func(context.Context, *fakeRunner, int, []byte, func(event.Data)) (pipeline.Output, error) {
		return pipeline.Output{}, fmt.Errorf("booting vm: %w", pipeline.Permanent(errSpec))
	}})
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Clock: &recordingClock{}})
	if !errors.Is(err, errSpec) || !pipeline.IsPermanent(err) {
		t.Fatalf("error = %v", err)
	}
	if a := rep.Stage("a").Attempts; a != 1 {
		t.Errorf("attempts = %d, want 1", a)
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("t").Pipe(pipeline.Node{ID: "a", Retries: 1, Timeout: 30 * time.Millisecond}))
	r := newRunner(map[string]behaviour{"a": block(nil)})
	start := time.Now()
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	s := rep.Stage("a")
	if s.Error != "timed out after 30ms" || s.Attempts != 2 || s.Status != pipeline.StatusFailed {
		t.Errorf("stage a = %+v", s)
	}
	if elapsed := time.Since(start); elapsed < 60*time.Millisecond {
		t.Errorf("run took %v, two timed-out attempts need at least 60ms", elapsed)
	}
}

func TestMaxParallelIsObserved(t *testing.T) {
	for _, tc := range []struct {
		limit, branches int
		want            int64
	}{
		{limit: 1, branches: 4, want: 1},
		{limit: 2, branches: 5, want: 2},
		{limit: 0, branches: 4, want: 4}, // no cap: every branch at once
	} {
		t.Run(fmt.Sprintf("limit=%d", tc.limit), func(t *testing.T) {
			b := pipeline.NewPipeline("par").MaxParallel(tc.limit).Pipe(node("src"))
			steps := map[string]behaviour{}
			var branches []pipeline.Node
			for i := range tc.branches {
				id := fmt.Sprintf("b%d", i)
				branches = append(branches, node(id))
				steps[id] = gate(tc.want)
			}
			g := mustPipeline(t, b.FanOut(branches...))
			r := newRunner(steps)
			if _, err := pipeline.Run(context.Background(), g, r, pipeline.Options{}); err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := r.maxRunning.Load(); got != tc.want {
				t.Errorf("max concurrent attempts = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRetryWaitHoldsNoSlot(t *testing.T) {
	// With one slot, a stage backing off must let another stage run; the
	// clock's Sleep blocks until the other stage has finished.
	g := mustPipeline(t, pipeline.NewPipeline("slot").MaxParallel(1).
		FanOut(pipeline.Node{ID: "flaky", Retries: 1, Backoff: time.Hour}, node("other")))
	r := newRunner(map[string]behaviour{"flaky": failTimes(1, "ok"), "other": succeed("")})
	clock := sleepUntil(func() <-chan struct{} { return r.doneCh("other") })
	// A slot held while backing off would deadlock; the deadline turns that
	// into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := pipeline.Run(ctx, g, r, pipeline.Options{Clock: clock})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep.Stage("flaky").Attempts != 2 {
		t.Errorf("flaky report = %+v", rep.Stage("flaky"))
	}
}

// sleepUntil is a Clock whose Sleep waits for a channel instead of time.
type sleepUntil func() <-chan struct{}

func (sleepUntil) Now() time.Time { return time.Now() }

func (s sleepUntil) Sleep(ctx context.Context, _ time.Duration) error {
	select {
	case <-s():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queueRunner emits vm.queued, sleeps wait, emits vm.admitted and then
// works for work: a stage whose VM waited for a host-wide slot.
type queueRunner struct{ wait, work time.Duration }

func (q queueRunner) RunStage(ctx context.Context, _ *pipeline.Node, _ int, _ []byte, emit func(event.Data)) (pipeline.Output, error) {
	emit(event.VMQueued{Ahead: 3})
	select {
	case <-time.After(q.wait):
	case <-ctx.Done():
		return pipeline.Output{}, ctx.Err()
	}
	emit(event.VMAdmitted{WaitMS: q.wait.Milliseconds()})
	select {
	case <-time.After(q.work):
		return pipeline.Output{Data: []byte("ok")}, nil
	case <-ctx.Done():
		return pipeline.Output{}, ctx.Err()
	}
}

// TestTimeoutExcludesTheVMQueue: an attempt's timeout does not run while
// its VM waits for a slot, and does run while it works.
func TestTimeoutExcludesTheVMQueue(t *testing.T) {
	g, err := pipeline.NewPipeline("q").Pipe(pipeline.Node{ID: "a", Timeout: 300 * time.Millisecond}).Build()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pipeline.Run(context.Background(), g, queueRunner{wait: 600 * time.Millisecond, work: 100 * time.Millisecond}, pipeline.Options{})
	if err != nil || rep.Status != pipeline.StatusSucceeded {
		t.Fatalf("queued 600ms with a 300ms timeout: %v (%v)", rep.Status, err)
	}
	rep, err = pipeline.Run(context.Background(), g, queueRunner{wait: 10 * time.Millisecond, work: 600 * time.Millisecond}, pipeline.Options{})
	if rep.Status != pipeline.StatusFailed || !errors.Is(err, pipeline.ErrTimeout) {
		t.Fatalf("worked 600ms with a 300ms timeout: %v (%v)", rep.Status, err)
	}
}
