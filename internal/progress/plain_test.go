package progress_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/progress"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestPlainGolden(t *testing.T) {
	events := []event.Event{
		{Time: at(0), Run: "review", Data: event.RunStarted{Stages: []string{"fetch", "lint", "test"}}},
		{Time: at(0), Run: "review", Stage: "fetch", Data: event.StageQueued{}},
		{Time: at(10), Run: "review", Stage: "fetch", Attempt: 1, Data: event.StageStarted{}},
		{Time: at(500), Run: "review", Stage: "fetch", Attempt: 1, Data: event.ExecOutput{Stream: "stdout", Data: "cloning\ndone \x1b[2J\x1b]0;pwned\x07"}},
		{Time: at(700), Run: "review", Stage: "fetch", Attempt: 1, Data: event.StageRetrying{Error: "exit code 1", DelayMS: 1000}},
		{Time: at(1700), Run: "review", Stage: "fetch", Attempt: 2, Data: event.StageStarted{}},
		{Time: at(2300), Run: "review", Stage: "fetch", Attempt: 2, Data: event.ExecOutput{Stream: "stderr", Data: "warn: slow\n"}},
		{Time: at(3210), Run: "review", Stage: "fetch", Attempt: 2, Data: event.StageSucceeded{OutputBytes: 2048}},
		{Time: at(3210), Run: "review", Stage: "lint", Data: event.StageQueued{}},
		{Time: at(3300), Run: "review", Stage: "lint", Attempt: 1, Data: event.StageStarted{}},
		{Time: at(4000), Run: "review", Stage: "lint", Attempt: 1, Data: event.StageFailed{Error: "booting vm:\nno kernel"}},
		{Time: at(4000), Run: "review", Stage: "test", Data: event.StageSkipped{Reason: `stage "lint" failed`}},
		{Time: at(4001), Run: "review", Stage: "lint", Data: event.AgentTurn{}},
		{Time: at(4100), Run: "review", Data: event.RunFinished{Status: "failed", DurationMS: 4100}},
	}
	var b strings.Builder
	r := progress.New(&b, progress.Options{Mode: progress.Plain, ShowOutput: true})
	for _, ev := range events {
		r.Emit(ev)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := `12:00:00 run review started (3 stages)
12:00:00 stage fetch queued
12:00:00 stage fetch started (attempt 1)
12:00:00 [fetch] cloning
12:00:00 stage fetch attempt 1 failed: exit code 1; retrying in 1s
12:00:01 stage fetch started (attempt 2)
12:00:02 [fetch stderr] warn: slow
12:00:03 [fetch] done [2J]0;pwned
12:00:03 stage fetch succeeded in 3.2s (attempt 2, 2.0 KiB output)
12:00:03 stage lint queued
12:00:03 stage lint started (attempt 1)
12:00:04 stage lint failed in 700ms (attempt 1): booting vm:; no kernel
12:00:04 stage test skipped: stage "lint" failed
12:00:04 run review failed in 4.1s
`
	if b.String() != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPlainHidesOutputUnlessAsked(t *testing.T) {
	var b strings.Builder
	r := progress.New(&b, progress.Options{Mode: progress.Plain})
	r.Emit(event.Event{Time: t0, Stage: "a", Data: event.ExecOutput{Stream: "stdout", Data: "secret\n"}})
	r.Emit(event.Event{Time: t0, Stage: "a", Attempt: 1, Data: event.StageStarted{}})
	r.Close()
	if got := b.String(); got != "12:00:00 stage a started (attempt 1)\n" {
		t.Errorf("output = %q", got)
	}
}

// stepClock hands out times 100ms apart, so a sequential run's events, and
// therefore its plain progress, are the same every time.
type stepClock struct {
	mu sync.Mutex
	n  int // guarded by mu
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return at(c.n * 100)
}

func (c *stepClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestPlainFromARealRun(t *testing.T) {
	g, err := pipeline.NewPipeline("demo").
		Pipe(pipeline.Node{ID: "build", Retries: 1, Backoff: 2 * time.Second}).
		Pipe(pipeline.Node{ID: "ship"}).Build()
	if err != nil {
		t.Fatal(err)
	}
	runner := pipeline.RunnerFunc(func(_ context.Context, n *pipeline.Node, attempt int, _ []byte, emit func(event.Data)) (pipeline.Output, error) {
		emit(event.NewExecOutput("stdout", []byte(n.ID+" says hi\n")))
		if n.ID == "build" && attempt == 1 {
			return pipeline.Output{}, errors.New("compiler crashed")
		}
		return pipeline.Output{Data: []byte("ok"), ExitCode: new(0)}, nil
	})
	var b strings.Builder
	r := progress.New(&b, progress.Options{ShowOutput: true}) // Auto on a non-terminal: plain
	rep, err := pipeline.Run(context.Background(), g, runner, pipeline.Options{Sink: r, Clock: &stepClock{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := progress.WriteReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `12:00:00 run demo started (2 stages)
12:00:00 stage build queued
12:00:00 stage build started (attempt 1)
12:00:00 [build] build says hi
12:00:00 stage build attempt 1 failed: compiler crashed; retrying in 2s
12:00:00 stage build started (attempt 2)
12:00:01 [build] build says hi
12:00:01 stage build succeeded in 800ms (attempt 2, 2 B output)
12:00:01 stage ship queued
12:00:01 stage ship started (attempt 1)
12:00:01 [ship] ship says hi
12:00:02 stage ship succeeded in 400ms (attempt 1, 2 B output)
12:00:02 run demo succeeded in 2.1s
STAGE  STATUS     ATTEMPTS  DURATION  EXIT  OUTPUT  NOTE
build  succeeded  2         1s        0     2 B     
ship   succeeded  1         600ms     0     2 B     
run demo succeeded in 2.1s
`
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestAutoIsPlainOnAFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "progress.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := progress.New(f, progress.Options{})
	r.Emit(event.Event{Time: t0, Stage: "a", Data: event.StageQueued{}})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "12:00:00 stage a queued\n" {
		t.Errorf("file holds %q, want one plain line", got)
	}
}

// TestFailedStageShowsStderrTail: a failed stage's last stderr lines follow
// its failure line (when its output was not shown as it came), cleaned.
func TestFailedStageShowsStderrTail(t *testing.T) {
	var b strings.Builder
	r := progress.New(&b, progress.Options{Mode: progress.Plain})
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r.Emit(event.Event{Time: t0, Stage: "a", Attempt: 1, Data: event.StageStarted{}})
	r.Emit(event.Event{Time: t0, Stage: "a", Attempt: 1, Data: event.StageFailed{Error: "exit code 1: boom",
		StderrTail: []string{"warming up", "boom \x1b[2J"}}})
	r.Close()
	if !strings.Contains(b.String(), "stage a failed in 0s (attempt 1): exit code 1: boom\n10:00:00 [a stderr] warming up\n10:00:00 [a stderr] boom") ||
		strings.Contains(b.String(), "\x1b") {
		t.Errorf("output:\n%s", b.String())
	}
}
