package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

func testCreateGet(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	before := time.Now().Add(-time.Second)
	nr := store.NewRun{Name: "review", Kind: "workflow", Spec: []byte("name: review\x00\xff"), Input: []byte(`{"q":1}`)}
	r, created, err := s.CreateRun(ctx, nr)
	if err != nil || !created {
		t.Fatalf("CreateRun: created=%v err=%v", created, err)
	}
	if !store.ValidID(r.ID) || r.Status != store.RunQueued || r.Created.Before(before) || !r.Started.IsZero() {
		t.Fatalf("new run: %+v", r)
	}
	got := must(s.GetRun(ctx, r.ID))(t)
	if got.ID != r.ID || got.Name != "review" || got.Kind != "workflow" || !bytes.Equal(got.Spec, nr.Spec) ||
		!bytes.Equal(got.Input, nr.Input) || got.Status != store.RunQueued || !got.Created.Equal(r.Created) {
		t.Fatalf("GetRun = %+v, want %+v", got, r)
	}
	r2 := newRun(t, ctx, s, "second")
	if r2.ID <= r.ID {
		t.Fatalf("ids do not increase: %s then %s", r.ID, r2.ID)
	}
}

func testIdempotency(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	nr := store.NewRun{Name: "n", Kind: "pipeline", Spec: []byte("a"), IdempotencyKey: "key-1"}
	// Concurrent submissions with one key make one run.
	const n = 8
	ids := make([]string, n)
	createdCount := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, created, err := s.CreateRun(ctx, nr)
			if err != nil {
				t.Errorf("CreateRun %d: %v", i, err)
				return
			}
			mu.Lock()
			ids[i] = r.ID
			if created {
				createdCount++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if createdCount != 1 {
		t.Fatalf("%d of %d concurrent creates with one key created a run", createdCount, n)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key gave different runs: %v", ids)
		}
	}
	got, created, err := s.CreateRun(ctx, nr)
	if err != nil || created || got.ID != ids[0] || got.IdempotencyKey != "key-1" {
		t.Fatalf("retry: %+v created=%v err=%v", got, created, err)
	}
	other := nr
	other.Spec = []byte("b")
	_, _, err = s.CreateRun(ctx, other)
	wantErr(t, "same key, different spec", err, store.ErrConflict)
	// Without a key, or with another, a new run.
	if r, created, err := s.CreateRun(ctx, store.NewRun{Name: "n", Kind: "pipeline", Spec: []byte("a"), IdempotencyKey: "key-2"}); err != nil || !created || r.ID == ids[0] {
		t.Fatalf("another key: %+v %v %v", r, created, err)
	}
	// Deleting the run frees its key.
	finish(t, ctx, s, ids[0], store.RunSucceeded)
	mustNil(t, s.DeleteRun(ctx, ids[0]))
	if r, created, err := s.CreateRun(ctx, other); err != nil || !created || r.ID == ids[0] {
		t.Fatalf("key after delete: %+v %v %v", r, created, err)
	}
}

func testTransitions(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "t")
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	got := must(s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunRunning, Time: start}))(t)
	if got.Status != store.RunRunning || !got.Started.Equal(start) {
		t.Fatalf("running: %+v", got)
	}
	_, err := s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunRunning})
	wantErr(t, "running → running", err, store.ErrConflict)
	_, err = s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunQueued})
	wantErr(t, "→ queued", err, store.ErrInvalid)
	_, err = s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunFailed, Report: []byte("{nope")})
	wantErr(t, "report not JSON", err, store.ErrInvalid)
	report := []byte(`{"name":"t","status":"failed","stages":[]}`)
	got = must(s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunFailed, Error: "stage \"b\" failed", Report: report}))(t)
	if got.Status != store.RunFailed || got.Ended.IsZero() || got.Error != "stage \"b\" failed" {
		t.Fatalf("failed: %+v", got)
	}
	got = must(s.GetRun(ctx, r.ID))(t)
	if !bytes.Equal(got.Report, report) || !got.Started.Equal(start) || got.Error == "" {
		t.Fatalf("after finish, GetRun = %+v", got)
	}
	for _, st := range []store.RunStatus{store.RunRunning, store.RunSucceeded, store.RunCancelled} {
		_, err = s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: st})
		wantErr(t, fmt.Sprintf("failed → %s", st), err, store.ErrConflict)
	}
	// queued may go straight to cancelled (cancelled before it started).
	q := newRun(t, ctx, s, "q")
	if got := must(s.UpdateRun(ctx, q.ID, store.RunUpdate{Status: store.RunCancelled}))(t); !got.Started.IsZero() || got.Ended.IsZero() {
		t.Fatalf("queued → cancelled: %+v", got)
	}
	_, err = s.UpdateRun(ctx, "0000000000000000000000000g", store.RunUpdate{Status: store.RunRunning})
	wantErr(t, "unknown run", err, store.ErrNotFound)
}

func testImmutable(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "done")
	must(s.AppendEvents(ctx, r.ID, []store.Event{ev("x")}))(t)
	finish(t, ctx, s, r.ID, store.RunSucceeded)
	_, err := s.AppendEvents(ctx, r.ID, []store.Event{ev("late")})
	wantErr(t, "append to finished run", err, store.ErrConflict)
	wantErr(t, "stage of finished run", s.SetStage(ctx, r.ID, store.Stage{Name: "a", Status: store.StageRunning}), store.ErrConflict)
	wantErr(t, "output of finished run", s.PutOutput(ctx, r.ID, "a", []byte("x")), store.ErrConflict)
	if evs := allEvents(t, ctx, s, r.ID, 10); len(evs) != 1 {
		t.Fatalf("finished run has %d events, want 1", len(evs))
	}
}

func testStages(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "st")
	for _, name := range []string{"build", "test", "lint"} {
		mustNil(t, s.SetStage(ctx, r.ID, store.Stage{Name: name, Status: store.StagePending}))
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	mustNil(t, s.SetStage(ctx, r.ID, store.Stage{Name: "test", Status: store.StageFailed, Attempts: 2,
		Started: at, Ended: at.Add(time.Second), ExitCode: 3, Error: "exit 3"}))
	got := must(s.Stages(ctx, r.ID))(t)
	if len(got) != 3 || got[0].Name != "build" || got[1].Name != "test" || got[2].Name != "lint" {
		t.Fatalf("stages out of first-set order: %+v", got)
	}
	if g := got[1]; g.Status != store.StageFailed || g.Attempts != 2 || !g.Started.Equal(at) ||
		!g.Ended.Equal(at.Add(time.Second)) || g.ExitCode != 3 || g.Error != "exit 3" {
		t.Fatalf("updated stage: %+v", g)
	}
	wantErr(t, "bad status", s.SetStage(ctx, r.ID, store.Stage{Name: "x", Status: "sleeping"}), store.ErrInvalid)
	_, err := s.Stages(ctx, "0000000000000000000000000g")
	wantErr(t, "stages of unknown run", err, store.ErrNotFound)
}

func testList(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	var all []store.Run // creation order
	for i := range 25 {
		r := newRun(t, ctx, s, []string{"a", "b"}[i%2])
		switch i % 5 {
		case 1:
			must(s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunRunning}))(t)
		case 2:
			finish(t, ctx, s, r.ID, store.RunSucceeded)
		case 3:
			finish(t, ctx, s, r.ID, store.RunFailed)
		}
		all = append(all, must(s.GetRun(ctx, r.ID))(t))
	}
	check := func(f store.RunFilter, page int) {
		t.Helper()
		var want []string
		for i := len(all) - 1; i >= 0; i-- {
			if (f.Name == "" || all[i].Name == f.Name) && (len(f.Status) == 0 || contains(f.Status, all[i].Status)) {
				want = append(want, all[i].ID)
			}
		}
		var got []string
		f.Limit = page
		for pages := 0; ; pages++ {
			p, err := s.ListRuns(ctx, f)
			if err != nil {
				t.Fatalf("ListRuns %+v: %v", f, err)
			}
			if len(p.Runs) > page || pages > 50 {
				t.Fatalf("page of %d (limit %d), page %d", len(p.Runs), page, pages)
			}
			for _, r := range p.Runs {
				if r.Spec != nil || r.Report != nil {
					t.Fatalf("ListRuns returned spec or report bytes")
				}
				got = append(got, r.ID)
			}
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("filter %+v, pages of %d:\n got %v\nwant %v", f, page, got, want)
		}
	}
	check(store.RunFilter{}, 10)
	check(store.RunFilter{}, 25)
	check(store.RunFilter{}, 1000)
	check(store.RunFilter{Name: "a"}, 4)
	check(store.RunFilter{Status: []store.RunStatus{store.RunRunning}}, 2)
	check(store.RunFilter{Status: []store.RunStatus{store.RunSucceeded, store.RunFailed}, Name: "b"}, 3)
	check(store.RunFilter{Name: "nobody"}, 5)
	_, err := s.ListRuns(ctx, store.RunFilter{Cursor: "../../etc"})
	wantErr(t, "bad cursor", err, store.ErrInvalid)
	_, err = s.ListRuns(ctx, store.RunFilter{Limit: store.MaxPageSize + 1})
	wantErr(t, "limit too big", err, store.ErrInvalid)
	_, err = s.ListRuns(ctx, store.RunFilter{Status: []store.RunStatus{"lost"}})
	wantErr(t, "bad status", err, store.ErrInvalid)
	p := must(s.ListRuns(ctx, store.RunFilter{}))(t)
	if len(p.Runs) != 25 || p.Next != "" {
		t.Fatalf("default page: %d runs, next %q", len(p.Runs), p.Next)
	}
}

func contains(ss []store.RunStatus, s store.RunStatus) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func testDelete(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	keep := newRun(t, ctx, s, "keep")
	r := newRun(t, ctx, s, "del")
	must(s.AppendEvents(ctx, r.ID, []store.Event{ev("1"), ev("2")}))(t)
	mustNil(t, s.SetStage(ctx, r.ID, store.Stage{Name: "a", Status: store.StageSucceeded}))
	mustNil(t, s.PutOutput(ctx, r.ID, "a", []byte("small")))
	mustNil(t, s.PutOutput(ctx, r.ID, "big", bytes.Repeat([]byte("x"), store.InlineOutputMax+1)))
	wantErr(t, "delete in flight", s.DeleteRun(ctx, r.ID), store.ErrConflict)
	finish(t, ctx, s, r.ID, store.RunSucceeded)
	mustNil(t, s.DeleteRun(ctx, r.ID))
	_, err := s.GetRun(ctx, r.ID)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	_, err = s.Events(ctx, r.ID, 0, 10)
	wantErr(t, "events of deleted", err, store.ErrNotFound)
	_, err = s.Stages(ctx, r.ID)
	wantErr(t, "stages of deleted", err, store.ErrNotFound)
	_, err = s.Output(ctx, r.ID, "big")
	wantErr(t, "output of deleted", err, store.ErrNotFound)
	wantErr(t, "wait on deleted", s.WaitEvents(ctx, r.ID, 0), store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteRun(ctx, r.ID), store.ErrNotFound)
	p := must(s.ListRuns(ctx, store.RunFilter{}))(t)
	if len(p.Runs) != 1 || p.Runs[0].ID != keep.ID {
		t.Fatalf("after delete, list = %+v", p.Runs)
	}
}
