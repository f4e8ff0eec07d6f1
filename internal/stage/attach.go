package stage

import (
	"os"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/attach"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// attachTap serves `voidbox attach` for one attempt's VM: it sees the
// attempt's events (its emit wraps the engine's) and, once the VM is up,
// hands them to the VM's attach server.
type attachTap struct {
	run, stage string
	attempt    int

	mu  sync.Mutex
	srv *attach.Server // guarded by mu; nil until the VM is up and after it stopped
}

// wrap returns emit that also feeds the attach server.
func (t *attachTap) wrap(emit func(event.Data)) func(event.Data) {
	return func(d event.Data) {
		emit(d)
		t.mu.Lock()
		srv := t.srv
		t.mu.Unlock()
		if srv != nil {
			srv.Emit(event.Event{Time: time.Now(), Run: t.run, Stage: t.stage, Attempt: t.attempt, Data: d})
		}
	}
}

// serve starts the attach server in sb's runtime directory and returns
// what stops it. A VM without one (an in-process test guest) or a socket
// that cannot be made leaves the stage unattachable, not failed.
func (t *attachTap) serve(sb *sandbox.Sandbox) (stop func()) {
	if t == nil || sb.Info().RuntimeDir == "" {
		return func() {}
	}
	srv, err := attach.Listen(sb.Info().RuntimeDir, attach.Info{Run: t.run, Stage: t.stage, Attempt: t.attempt,
		OwnerPID: os.Getpid(), Shell: sb.Policy().AttachShell, Started: time.Now()}, sb)
	if err != nil {
		return func() {}
	}
	t.mu.Lock()
	t.srv = srv
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.srv = nil
		t.mu.Unlock()
		srv.Close()
	}
}
