package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
)

// serviceBehaviour is what the fake does for a service attempt.
type serviceBehaviour func(ctx context.Context, attempt int, ready func(pipeline.Output)) (pipeline.Output, error)

// serviceRunner is fakeRunner plus services.
type serviceRunner struct {
	*fakeRunner
	services map[string]serviceBehaviour
	running  atomic.Int64 // services inside RunService now
}

func (s *serviceRunner) RunService(ctx context.Context, n *pipeline.Node, attempt int, input []byte, emit func(event.Data), ready func(pipeline.Output)) (pipeline.Output, error) {
	s.running.Add(1)
	defer s.running.Add(-1)
	return s.services[n.ID](ctx, attempt, ready)
}

// serveUntilStopped becomes ready with data after delay, then runs until
// its context ends.
func serveUntilStopped(data string, delay time.Duration) serviceBehaviour {
	return func(ctx context.Context, _ int, ready func(pipeline.Output)) (pipeline.Output, error) {
		select {
		case <-time.After(delay):
			ready(pipeline.Output{Data: []byte(data)})
		case <-ctx.Done():
			return pipeline.Output{}, errors.New("its output file never appeared")
		}
		<-ctx.Done()
		return pipeline.Output{}, ctx.Err()
	}
}

func workflow(t *testing.T, maxParallel int, output string, steps ...pipeline.Step) *pipeline.Graph {
	t.Helper()
	g, err := pipeline.NewWorkflow("wf", steps, output)
	if err != nil {
		t.Fatal(err)
	}
	g.MaxParallel = maxParallel
	return g
}

// TestServiceServesItsDependants: the dependant starts once the service is
// ready (max_parallel 1: the ready service holds no slot), gets its output,
// and the service is stopped when the dependant is done: it succeeded, the
// report and events say ready, uptime and why it stopped.
func TestServiceServesItsDependants(t *testing.T) {
	var sawRunning atomic.Bool
	r := &serviceRunner{services: map[string]serviceBehaviour{"db": serveUntilStopped("db:5432", 20*time.Millisecond)}}
	r.fakeRunner = newRunner(map[string]behaviour{"app": func(ctx context.Context, f *fakeRunner, attempt int, input []byte, emit func(event.Data)) (pipeline.Output, error) {
		sawRunning.Store(r.running.Load() == 1)
		time.Sleep(30 * time.Millisecond)
		return pipeline.Output{Data: append(input, " used"...)}, nil
	}})
	db := node("db")
	db.Service = true
	g := workflow(t, 1, "app", pipeline.Step{Node: db}, pipeline.Step{Node: node("app"), StdinFrom: "db"})
	log := &eventLog{}
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Sink: log})
	if err != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	if !sawRunning.Load() || r.running.Load() != 0 {
		t.Fatal("the service was not running while its dependant ran, or still runs")
	}
	if got := r.inputOf("app", 1); got != "db:5432" || string(rep.Output) != "db:5432 used" {
		t.Fatalf("app input %q, output %q", got, rep.Output)
	}
	s := rep.Stage("db")
	if s.Status != pipeline.StatusSucceeded || s.Service == nil || s.Service.ReadyMS < 15 || s.Service.UptimeMS < 25 ||
		s.Service.ExitReason != "stopped: the run's other stages finished" || s.OutputBytes != len("db:5432") {
		t.Fatalf("service report %+v %+v", s, s.Service)
	}
	want := []string{"stage.queued", "stage.started", "service.ready", "service.stopped", "stage.succeeded"}
	if got := types(log.of("db")); !slices.Equal(got, want) {
		t.Fatalf("service events %v, want %v", got, want)
	}
	// The dependant started after the service was ready.
	var order []string
	for _, e := range log.events {
		if (e.Stage == "db" && e.Type() == event.TypeServiceReady) || (e.Stage == "app" && e.Type() == event.TypeStageStarted) {
			order = append(order, e.Stage)
		}
	}
	if !slices.Equal(order, []string{"db", "app"}) {
		t.Fatalf("order %v", order)
	}
}

func TestServiceFailures(t *testing.T) {
	never := func(ctx context.Context, _ int, _ func(pipeline.Output)) (pipeline.Output, error) {
		<-ctx.Done()
		return pipeline.Output{}, errors.New("its output file /workspace/ready never appeared")
	}
	diesAfterReady := func(ctx context.Context, _ int, ready func(pipeline.Output)) (pipeline.Output, error) {
		ready(pipeline.Output{Data: []byte("up")})
		code := 3
		return pipeline.Output{ExitCode: &code}, nil
	}
	exitsFirst := func(ctx context.Context, _ int, _ func(pipeline.Output)) (pipeline.Output, error) {
		code := 0
		return pipeline.Output{ExitCode: &code}, nil
	}
	for name, c := range map[string]struct {
		svc  serviceBehaviour
		want string
	}{
		"never ready":      {never, `stage "svc": timed out after 50ms: not ready: its output file /workspace/ready never appeared`},
		"dies after ready": {diesAfterReady, `stage "svc": service exited with exit code 3 while the run was still running`},
		"exits first":      {exitsFirst, `stage "svc": the service exited (exit code 0) before it was ready`},
	} {
		t.Run(name, func(t *testing.T) {
			// The dependant (if it starts) is running when the service dies:
			// it goes on, as beside any failed stage, and ends by itself.
			r := &serviceRunner{fakeRunner: newRunner(map[string]behaviour{"app": func(ctx context.Context, _ *fakeRunner, _ int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
				time.Sleep(100 * time.Millisecond)
				return pipeline.Output{}, nil
			}}), services: map[string]serviceBehaviour{"svc": c.svc}}
			svc := node("svc")
			svc.Service, svc.Timeout = true, 50*time.Millisecond
			g := workflow(t, 0, "", pipeline.Step{Node: svc}, pipeline.Step{Node: node("app"), DependsOn: []string{"svc"}})
			rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if s := rep.Stage("svc"); s.Status != pipeline.StatusFailed || s.Service == nil {
				t.Fatalf("service report %+v", s)
			}
			if r.running.Load() != 0 {
				t.Fatal("the service still runs")
			}
		})
	}
}

func TestServiceOnlyRunLivesUntilCancelled(t *testing.T) {
	r := &serviceRunner{fakeRunner: newRunner(nil), services: map[string]serviceBehaviour{"bot": serveUntilStopped("up", 0)}}
	bot := node("bot")
	bot.Service = true
	g := workflow(t, 0, "", pipeline.Step{Node: bot})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	rep, err := pipeline.Run(ctx, g, r, pipeline.Options{})
	if !errors.Is(err, context.Canceled) || rep.Status != pipeline.StatusCancelled {
		t.Fatalf("%v %s", err, rep.Status)
	}
	if s := rep.Stage("bot"); s.Service.ExitReason != "stopped: run cancelled" || s.Service.UptimeMS < 80 {
		t.Fatalf("service %+v", s.Service)
	}
	_, err = pipeline.Run(context.Background(), g, newRunner(nil), pipeline.Options{})
	if !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), `stage "bot" is a service`) {
		t.Fatalf("a runner without services: %v", err)
	}
}
