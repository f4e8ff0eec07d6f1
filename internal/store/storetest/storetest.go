// Package storetest is the conformance suite every store.Store passes
// (after containerd's content/testsuite): one function, given a way to make
// a fresh store, checks the behaviour the daemon relies on.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

// Harness describes the store under test.
type Harness struct {
	// NewURL returns the URL of a fresh, empty store; opening it twice opens
	// the same data.
	NewURL func(t *testing.T) string
	// Exclusive: a second Open of a URL in use fails with store.ErrLocked.
	Exclusive bool
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"CreateGet", testCreateGet},
		{"Idempotency", testIdempotency},
		{"Transitions", testTransitions},
		{"FinishedRunIsImmutable", testImmutable},
		{"Stages", testStages},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ResumeAfter", testResume},
		{"Wait", testWait},
		{"ListPagingFilters", testList},
		{"Delete", testDelete},
		{"Outputs", testOutputs},
		{"Sandboxes", testSandboxes},
		{"InvalidInput", testInvalid},
		{"Reopen", testReopen},
		{"CrashRecovery", testCrash},
		{"RecoverFinishedStream", testRecoverFinishedStream},
		{"Closed", testClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, h) })
	}
}

// open opens url and closes it at the end of the test.
func open(t *testing.T, url string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fresh(t *testing.T, h Harness) store.Store { return open(t, h.NewURL(t)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

// must(f())(t) is f's value, or t fails with f's error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newRun creates a queued run named name.
func newRun(t *testing.T, ctx context.Context, s store.Store, name string) store.Run {
	t.Helper()
	r, created, err := s.CreateRun(ctx, store.NewRun{Name: name, Kind: "pipeline", Spec: []byte("name: " + name)})
	if err != nil || !created {
		t.Fatalf("CreateRun %s: created=%v err=%v", name, created, err)
	}
	return r
}

// finish takes a run from queued through running to st.
func finish(t *testing.T, ctx context.Context, s store.Store, id string, st store.RunStatus) store.Run {
	t.Helper()
	if _, err := s.UpdateRun(ctx, id, store.RunUpdate{Status: store.RunRunning}); err != nil {
		t.Fatalf("starting %s: %v", id, err)
	}
	r, err := s.UpdateRun(ctx, id, store.RunUpdate{Status: st, Report: []byte(`{"status":"` + string(st) + `"}`)})
	if err != nil {
		t.Fatalf("finishing %s: %v", id, err)
	}
	return r
}

// ev makes an event whose data carries a label the test checks later.
func ev(label string) store.Event {
	return store.Event{Type: "exec.output", Data: []byte(`{"type":"exec.output","fields":{"data":"` + label + `"}}`)}
}

// allEvents reads a run's whole stream in pages of `page`.
func allEvents(t *testing.T, ctx context.Context, s store.Store, run string, page int) []store.Event {
	t.Helper()
	var out []store.Event
	var after uint64
	for {
		evs, err := s.Events(ctx, run, after, page)
		if err != nil {
			t.Fatalf("Events after %d: %v", after, err)
		}
		if len(evs) > page {
			t.Fatalf("Events returned %d, over the limit %d", len(evs), page)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

// checkSeqs fails unless evs are numbered 1..len(evs) in order.
func checkSeqs(t *testing.T, evs []store.Event) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d (gap, duplicate or disorder)", i, e.Seq, i+1)
		}
	}
}
