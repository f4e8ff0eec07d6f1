package storetest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

// blob makes n bytes of pseudo-random data (different per seed).
func blob(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testOutputs(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "o")
	small, edge, big := []byte("hello\n"), blob(store.InlineOutputMax, 1), blob(5<<20, 2)
	mustNil(t, s.PutOutput(ctx, r.ID, "small", small))
	mustNil(t, s.PutOutput(ctx, r.ID, "edge", edge))
	mustNil(t, s.PutOutput(ctx, r.ID, "big", big))
	mustNil(t, s.PutOutput(ctx, r.ID, "empty", nil))
	for name, want := range map[string][]byte{"small": small, "edge": edge, "big": big, "empty": {}} {
		got := must(s.Output(ctx, r.ID, name))(t)
		if !bytes.Equal(got, want) {
			t.Fatalf("output %s: %d bytes back, want %d", name, len(got), len(want))
		}
	}
	// Replacing: large → small → large.
	mustNil(t, s.PutOutput(ctx, r.ID, "big", small))
	if got := must(s.Output(ctx, r.ID, "big"))(t); !bytes.Equal(got, small) {
		t.Fatalf("big replaced by small: %d bytes", len(got))
	}
	big2 := blob(store.InlineOutputMax+1, 3)
	mustNil(t, s.PutOutput(ctx, r.ID, "small", big2))
	if got := must(s.Output(ctx, r.ID, "small"))(t); !bytes.Equal(got, big2) {
		t.Fatalf("small replaced by large: %d bytes", len(got))
	}
	list := must(s.ListOutputs(ctx, r.ID))(t)
	want := []store.OutputInfo{{Stage: "big", Size: int64(len(small))}, {Stage: "edge", Size: int64(len(edge))}, {Stage: "empty", Size: 0}, {Stage: "small", Size: int64(len(big2))}}
	if len(list) != len(want) {
		t.Fatalf("ListOutputs = %+v", list)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Fatalf("ListOutputs = %+v, want %+v", list, want)
		}
	}
	_, err := s.Output(ctx, r.ID, "nope")
	wantErr(t, "missing output", err, store.ErrNotFound)
	wantErr(t, "output over the cap", s.PutOutput(ctx, r.ID, "huge", make([]byte, store.MaxOutputBytes+1)), store.ErrTooLarge)
	wantErr(t, "output of unknown run", s.PutOutput(ctx, "0000000000000000000000000g", "a", small), store.ErrNotFound)
}

func testSandboxes(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	a := must(s.CreateSandbox(ctx, []byte(`{"memory":"512M"}`)))(t)
	b := must(s.CreateSandbox(ctx, []byte(`{"memory":"1G"}`)))(t)
	if !store.ValidID(a.ID) || a.ID == b.ID || a.Created.IsZero() || !a.LastUsed.Equal(a.Created) {
		t.Fatalf("created %+v, %+v", a, b)
	}
	got := must(s.GetSandbox(ctx, a.ID))(t)
	if string(got.Config) != `{"memory":"512M"}` || !got.Created.Equal(a.Created) {
		t.Fatalf("GetSandbox = %+v", got)
	}
	later := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	mustNil(t, s.TouchSandbox(ctx, a.ID, later))
	if got := must(s.GetSandbox(ctx, a.ID))(t); !got.LastUsed.Equal(later) {
		t.Fatalf("after touch, last used %v, want %v", got.LastUsed, later)
	}
	list := must(s.ListSandboxes(ctx))(t)
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("ListSandboxes = %+v", list)
	}
	mustNil(t, s.DeleteSandbox(ctx, a.ID))
	_, err := s.GetSandbox(ctx, a.ID)
	wantErr(t, "get deleted sandbox", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteSandbox(ctx, a.ID), store.ErrNotFound)
	wantErr(t, "touch deleted", s.TouchSandbox(ctx, a.ID, later), store.ErrNotFound)
	_, err = s.CreateSandbox(ctx, []byte("{"))
	wantErr(t, "config not JSON", err, store.ErrInvalid)
	if list := must(s.ListSandboxes(ctx))(t); len(list) != 1 {
		t.Fatalf("after delete, %d sandboxes", len(list))
	}
}

func testInvalid(t *testing.T, h Harness) {
	ctx, s := ctxT(t), fresh(t, h)
	r := newRun(t, ctx, s, "i")
	for _, id := range []string{"", "../../../etc/passwd", "0000000000000000000000000G", "0000000000000000000000000h"} {
		_, err := s.GetRun(ctx, id)
		wantErr(t, "GetRun "+id, err, store.ErrNotFound)
		_, err = s.AppendEvents(ctx, id, []store.Event{ev("x")})
		wantErr(t, "AppendEvents "+id, err, store.ErrNotFound)
		_, err = s.GetSandbox(ctx, id)
		wantErr(t, "GetSandbox "+id, err, store.ErrNotFound)
	}
	_, _, err := s.CreateRun(ctx, store.NewRun{Kind: "pipeline"})
	wantErr(t, "run without a name", err, store.ErrInvalid)
	_, _, err = s.CreateRun(ctx, store.NewRun{Name: "a\nb", Kind: "pipeline"})
	wantErr(t, "name with a newline", err, store.ErrInvalid)
	bad := [][]store.Event{
		nil,
		{{Seq: 3, Type: "x"}},
		{{Type: ""}},
		{{Type: "a\nb"}},
		{{Type: "x", Data: []byte("{")}},
	}
	for i, evs := range bad {
		_, err := s.AppendEvents(ctx, r.ID, evs)
		wantErr(t, "bad batch "+string(rune('0'+i)), err, store.ErrInvalid)
	}
	_, err = s.AppendEvents(ctx, r.ID, []store.Event{{Type: "x", Data: make([]byte, store.MaxEventBytes+1)}})
	wantErr(t, "event over the cap", err, store.ErrTooLarge)
	if evs := must(s.Events(ctx, r.ID, 0, 10))(t); len(evs) != 0 {
		t.Fatalf("rejected batches stored %d events", len(evs))
	}
	// An event with no data is fine.
	if last := must(s.AppendEvents(ctx, r.ID, []store.Event{{Type: "bare"}}))(t); last != 1 {
		t.Fatalf("first event after rejected batches has id %d", last)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.CreateRun(cctx, store.NewRun{Name: "x", Kind: "pipeline"}); err == nil {
		t.Fatal("CreateRun with a cancelled context succeeded")
	}
}

func testReopen(t *testing.T, h Harness) {
	ctx, url := ctxT(t), h.NewURL(t)
	s := open(t, url)
	r := newRun(t, ctx, s, "persist")
	must(s.AppendEvents(ctx, r.ID, []store.Event{ev("1"), ev("2"), ev("3")}))(t)
	mustNil(t, s.SetStage(ctx, r.ID, store.Stage{Name: "a", Status: store.StageSucceeded, ExitCode: 0}))
	big := blob(store.InlineOutputMax*3, 4)
	mustNil(t, s.PutOutput(ctx, r.ID, "a", big))
	done := finish(t, ctx, s, r.ID, store.RunSucceeded)
	live := newRun(t, ctx, s, "live")
	must(s.AppendEvents(ctx, live.ID, []store.Event{ev("1")}))(t)
	sb := must(s.CreateSandbox(ctx, []byte(`{}`)))(t)
	if h.Exclusive {
		_, err := store.Open(ctx, url)
		wantErr(t, "second open while open", err, store.ErrLocked)
	}
	mustNil(t, s.Close())
	mustNil(t, s.Close())

	s = open(t, url)
	got := must(s.GetRun(ctx, r.ID))(t)
	if got.Status != store.RunSucceeded || !bytes.Equal(got.Report, done.Report) || !got.Ended.Equal(done.Ended) || got.LastSeq != 3 {
		t.Fatalf("after reopen: %+v", got)
	}
	evs := allEvents(t, ctx, s, r.ID, 2)
	checkSeqs(t, evs)
	if len(evs) != 3 || label(t, evs[2]) != "3" {
		t.Fatalf("after reopen, %d events", len(evs))
	}
	if out := must(s.Output(ctx, r.ID, "a"))(t); !bytes.Equal(out, big) {
		t.Fatal("large output changed across reopen")
	}
	if st := must(s.Stages(ctx, r.ID))(t); len(st) != 1 || st[0].Status != store.StageSucceeded {
		t.Fatalf("stages after reopen: %+v", st)
	}
	if last := must(s.AppendEvents(ctx, live.ID, []store.Event{ev("2")}))(t); last != 2 {
		t.Fatalf("append after reopen got id %d, want 2", last)
	}
	must(s.GetSandbox(ctx, sb.ID))(t)
	if r2 := newRun(t, ctx, s, "after"); r2.ID <= live.ID {
		t.Fatalf("id after reopen %s not after %s", r2.ID, live.ID)
	}
}

func testClosed(t *testing.T, h Harness) {
	ctx, url := ctxT(t), h.NewURL(t)
	s := open(t, url)
	r := newRun(t, ctx, s, "c")
	mustNil(t, s.Close())
	_, err := s.GetRun(ctx, r.ID)
	wantErr(t, "GetRun after Close", err, store.ErrClosed)
	_, _, err = s.CreateRun(ctx, store.NewRun{Name: "x", Kind: "pipeline"})
	wantErr(t, "CreateRun after Close", err, store.ErrClosed)
	_, err = s.AppendEvents(ctx, r.ID, []store.Event{ev("x")})
	wantErr(t, "AppendEvents after Close", err, store.ErrClosed)
	wantErr(t, "WaitEvents after Close", s.WaitEvents(ctx, r.ID, 0), store.ErrClosed)
	mustNil(t, s.Close())
}
