package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

// label reads back what ev put in an event.
func label(t *testing.T, e store.Event) string {
	t.Helper()
	var v struct {
		Fields struct{ Data string } `json:"fields"`
	}
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("event %d: %v", e.Seq, err)
	}
	return v.Fields.Data
}

func testConcurrentAppends(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "c")
	const writers, batches = 6, 20
	type batch struct {
		labels []string
		last   uint64
	}
	got := make([][]batch, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var evs []store.Event
				var labels []string
				for i := range 1 + (w+b)%4 {
					l := fmt.Sprintf("w%d-b%d-e%d", w, b, i)
					evs, labels = append(evs, ev(l)), append(labels, l)
				}
				last, err := s.AppendEvents(ctx, r.ID, evs)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				got[w] = append(got[w], batch{labels, last})
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	evs := allEvents(t, ctx, s, r.ID, 7)
	checkSeqs(t, evs)
	total := 0
	for w := range got {
		prev := uint64(0)
		for _, b := range got[w] {
			total += len(b.labels)
			if b.last <= prev {
				t.Fatalf("writer %d: last ids not increasing: %d after %d", w, b.last, prev)
			}
			prev = b.last
			// A batch occupies consecutive ids ending at the returned one.
			for i, l := range b.labels {
				seq := b.last - uint64(len(b.labels)) + 1 + uint64(i)
				if seq < 1 || seq > uint64(len(evs)) || label(t, evs[seq-1]) != l {
					t.Fatalf("writer %d: event %q not at seq %d", w, l, seq)
				}
			}
		}
	}
	if total != len(evs) {
		t.Fatalf("%d events appended, %d stored", total, len(evs))
	}
	if run := must(s.GetRun(ctx, r.ID))(t); run.LastSeq != uint64(total) {
		t.Fatalf("LastSeq %d, want %d", run.LastSeq, total)
	}
}

func testResume(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "r")
	at := time.Date(2026, 11, 27, 12, 0, 1, 250_000_000, time.UTC)
	for i := range 10 {
		e := ev(fmt.Sprint(i + 1))
		e.Time = at.Add(time.Duration(i) * time.Millisecond)
		must(s.AppendEvents(ctx, r.ID, []store.Event{e}))(t)
	}
	evs := must(s.Events(ctx, r.ID, 4, 3))(t)
	if len(evs) != 3 || evs[0].Seq != 5 || evs[2].Seq != 7 || label(t, evs[0]) != "5" {
		t.Fatalf("after 4, limit 3: %+v", evs)
	}
	if e := evs[1]; e.Type != "exec.output" || !e.Time.Equal(at.Add(5*time.Millisecond)) {
		t.Fatalf("event 6 = %+v", e)
	}
	for _, after := range []uint64{10, 11, 1 << 62, ^uint64(0)} {
		if evs := must(s.Events(ctx, r.ID, after, 5))(t); len(evs) != 0 {
			t.Fatalf("after %d: %d events", after, len(evs))
		}
	}
	if evs := must(s.Events(ctx, r.ID, 0, 0))(t); len(evs) != 10 {
		t.Fatalf("limit 0 (default) gave %d", len(evs))
	}
	_, err := s.Events(ctx, r.ID, 0, -1)
	wantErr(t, "negative limit", err, store.ErrInvalid)
	_, err = s.Events(ctx, r.ID, 0, store.MaxPageSize+1)
	wantErr(t, "limit over max", err, store.ErrInvalid)
	_, err = s.Events(ctx, "0000000000000000000000000g", 0, 1)
	wantErr(t, "unknown run", err, store.ErrNotFound)
	// The next append continues after the last id.
	if last := must(s.AppendEvents(ctx, r.ID, []store.Event{ev("11"), ev("12")}))(t); last != 12 {
		t.Fatalf("append after 10 gave last %d", last)
	}
}

func testWait(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "w")
	last := must(s.AppendEvents(ctx, r.ID, []store.Event{ev("1")}))(t)
	// Something newer than `after`: at once.
	mustNil(t, s.WaitEvents(ctx, r.ID, 0))
	// Nothing newer: blocks until an append.
	done := make(chan error, 1)
	go func() { done <- s.WaitEvents(ctx, r.ID, last) }()
	select {
	case err := <-done:
		t.Fatalf("WaitEvents returned %v with nothing new", err)
	case <-time.After(100 * time.Millisecond):
	}
	must(s.AppendEvents(ctx, r.ID, []store.Event{ev("2")}))(t)
	select {
	case err := <-done:
		mustNil(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitEvents not woken by an append")
	}
	// A run reaching a terminal status wakes it too.
	go func() { done <- s.WaitEvents(ctx, r.ID, last+1) }()
	time.Sleep(50 * time.Millisecond)
	finish(t, ctx, s, r.ID, store.RunCancelled)
	select {
	case err := <-done:
		mustNil(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitEvents not woken by the run finishing")
	}
	// Its context ending.
	r2 := newRun(t, ctx, s, "w2")
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	wantErr(t, "wait with deadline", s.WaitEvents(cctx, r2.ID, 0), context.DeadlineExceeded)
	wantErr(t, "wait on unknown run", s.WaitEvents(ctx, "0000000000000000000000000g", 0), store.ErrNotFound)
	// Many waiters on one run all wake.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() { errs <- s.WaitEvents(ctx, r2.ID, 0) })
	}
	time.Sleep(50 * time.Millisecond)
	must(s.AppendEvents(ctx, r2.ID, []store.Event{ev("x")}))(t)
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, err)
	}
}
