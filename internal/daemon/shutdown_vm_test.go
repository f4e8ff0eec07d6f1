package daemon

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/client"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestShutdown: by default Shutdown cancels the running run and the queued
// one; with Drain it lets the run finish, refusing new ones meanwhile.
// Either way it returns with no VM left.
func TestShutdown(t *testing.T) {
	vmtest.Setup(t)
	t.Run("cancel", func(t *testing.T) {
		s := serveTest(t, Config{MaxVMs: 1}, "")
		ctx := ctxT(t, 3*time.Minute)
		run, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("long", "echo up; sleep 300")}, "")
		if err != nil {
			t.Fatal(err)
		}
		queued, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("waits", "true")}, "")
		if err != nil {
			t.Fatal(err)
		}
		waitEvent(t, s.c, run.ID, event.TypeExecOutput)
		if err := s.d.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if n := s.d.VMs(); n != 0 {
			t.Fatalf("%d VMs after Shutdown", n)
		}
		for _, id := range []string{run.ID, queued.ID} {
			r, err := s.c.GetRun(ctx, id)
			if err != nil || r.Status != "cancelled" || r.Error != errShuttingDown.Error() {
				t.Fatalf("run %s after Shutdown: %+v %v", id, r, err)
			}
		}
	})
	t.Run("drain", func(t *testing.T) {
		s := serveTest(t, Config{MaxVMs: 1, Drain: true}, "")
		ctx := ctxT(t, 3*time.Minute)
		run, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("short", "echo up; sleep 3; echo done")}, "")
		if err != nil {
			t.Fatal(err)
		}
		waitEvent(t, s.c, run.ID, event.TypeExecOutput)
		shut := make(chan error, 1)
		go func() { shut <- s.d.Shutdown(context.Background()) }()
		deadline := time.Now().Add(10 * time.Second)
		for !s.d.isDraining() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		_, err = s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("late", "true")}, "")
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable {
			t.Fatalf("a run submitted while draining: %v, want 503", err)
		}
		if err := <-shut; err != nil {
			t.Fatal(err)
		}
		r, err := s.c.GetRun(ctx, run.ID)
		if err != nil || r.Status != "succeeded" {
			t.Fatalf("the drained run: %+v %v", r, err)
		}
		if n := s.d.VMs(); n != 0 {
			t.Fatalf("%d VMs after the drain", n)
		}
	})
}
