package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/store"
)

// Bounds of one run's recorder.
const (
	// maxPending events wait for the store before Emit blocks: a stage
	// flooding output is slowed to the store's pace instead of growing the
	// queue without bound.
	maxPending = 10000
	// maxChunk bounds the text of one stored exec.output event, so every
	// stored event stays far under event.MaxLine once encoded (escapes can
	// make JSON six times longer than its text) and clients decode it.
	maxChunk = 8 << 10
)

// noExitCode is what a stored stage's ExitCode holds when no command ran to
// an end (the store keeps a plain int).
const noExitCode = -1

// recorder writes one run's events to the store, in order and in batches,
// from one goroutine (its loop), and keeps the run's stage states from them.
// It is the run's event.Sink. Close flushes and stops it.
type recorder struct {
	st  store.Store
	run string
	log *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond    // signalled when the queue shrinks or closes
	queue   []event.Event // guarded by mu
	closed  bool          // guarded by mu
	wake    chan struct{} // one pending wake-up for loop
	done    chan struct{} // closed when loop returns
	stages  map[string]*store.Stage
	order   []string
	written bool // loop wrote a run.finished; only loop touches it
}

func newRecorder(st store.Store, run string, log *slog.Logger) *recorder {
	r := &recorder{st: st, run: run, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}),
		stages: map[string]*store.Stage{}}
	r.cond = sync.NewCond(&r.mu)
	go r.loop()
	return r
}

// Emit queues e; it waits only while maxPending events are queued.
func (r *recorder) Emit(e event.Event) {
	if e.Data == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	r.mu.Lock()
	for len(r.queue) >= maxPending && !r.closed {
		r.cond.Wait()
	}
	if r.closed {
		r.mu.Unlock()
		return // the run is over: a straggler is dropped, as the engine does
	}
	r.queue = append(r.queue, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Close writes what is queued and stops the loop. It returns whether a
// run.finished event was written (the engine's, or none when the run never
// started).
func (r *recorder) Close() bool {
	r.mu.Lock()
	r.closed = true
	r.cond.Broadcast()
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	<-r.done
	return r.written
}

func (r *recorder) loop() {
	defer close(r.done)
	for {
		<-r.wake
		r.mu.Lock()
		batch, closed := r.queue, r.closed
		r.queue = nil
		r.cond.Broadcast()
		r.mu.Unlock()
		if len(batch) > 0 {
			r.write(batch)
		}
		if closed {
			r.mu.Lock()
			rest := r.queue // queued between the swap and Close
			r.queue = nil
			r.mu.Unlock()
			if len(rest) > 0 {
				r.write(rest)
			}
			return
		}
	}
}

// write appends a batch and then the stage states it changed. Store errors
// are logged: losing events must not fail the run (the run's own status
// still reaches the store).
func (r *recorder) write(batch []event.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var evs []store.Event
	for _, e := range batch {
		for _, part := range split(e) {
			data, err := json.Marshal(part)
			if err != nil {
				r.log.Warn("encoding event", "run", r.run, "type", part.Type(), "err", err)
				continue
			}
			evs = append(evs, store.Event{Type: string(part.Type()), Time: part.Time, Data: data})
		}
	}
	for len(evs) > 0 {
		n := min(len(evs), store.MaxEventBatch)
		if _, err := r.st.AppendEvents(ctx, r.run, evs[:n]); err != nil {
			r.log.Error("storing events", "run", r.run, "events", n, "err", err)
		}
		for _, e := range evs[:n] {
			if e.Type == string(event.TypeRunFinished) {
				r.written = true
			}
		}
		evs = evs[n:]
	}
	changed := map[string]bool{}
	for _, e := range batch {
		for _, name := range r.apply(e) {
			changed[name] = true
		}
	}
	for _, name := range r.order {
		if changed[name] {
			if err := r.st.SetStage(ctx, r.run, *r.stages[name]); err != nil {
				r.log.Error("storing stage", "run", r.run, "stage", name, "err", err)
			}
		}
	}
}

// split cuts an exec.output event whose text is over maxChunk into several,
// on rune boundaries; other events pass as they are.
func split(e event.Event) []event.Event {
	out, ok := e.Data.(event.ExecOutput)
	if !ok || len(out.Data) <= maxChunk {
		return []event.Event{{Time: e.Time, Run: e.Run, Stage: e.Stage, Attempt: e.Attempt, Data: event.Clamp(e.Data)}}
	}
	var parts []event.Event
	for s := out.Data; s != ""; {
		n := min(len(s), maxChunk)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		part := e
		part.Data = event.ExecOutput{Stream: out.Stream, Data: s[:n]}
		parts = append(parts, part)
		s = s[n:]
	}
	return parts
}

// apply updates the stage states from e and returns the stages it changed.
func (r *recorder) apply(e event.Event) []string {
	if rs, ok := e.Data.(event.RunStarted); ok {
		for _, name := range rs.Stages {
			r.stage(name)
		}
		return rs.Stages
	}
	if e.Stage == "" {
		return nil
	}
	s := r.stage(e.Stage)
	exit := func(c *int) int {
		if c == nil {
			return noExitCode
		}
		return *c
	}
	switch d := e.Data.(type) {
	case event.StageQueued:
		s.Status = store.StageQueued
	case event.StageStarted:
		s.Status, s.Attempts, s.Error = store.StageRunning, e.Attempt, ""
		if s.Started.IsZero() {
			s.Started = e.Time
		}
	case event.StageRetrying:
		s.Error = d.Error
	case event.StageSucceeded:
		s.Status, s.Ended, s.ExitCode, s.Error = store.StageSucceeded, e.Time, exit(d.ExitCode), ""
	case event.StageFailed:
		s.Status, s.Ended, s.ExitCode, s.Error, s.Attempts = store.StageFailed, e.Time, exit(d.ExitCode), d.Error, d.Attempts
	case event.StageSkipped:
		s.Status, s.Ended, s.Error = store.StageSkipped, e.Time, d.Reason
	case event.StageCancelled:
		s.Status, s.Ended, s.Error = store.StageCancelled, e.Time, d.Reason
	default:
		return nil
	}
	return []string{e.Stage}
}

func (r *recorder) stage(name string) *store.Stage {
	s, ok := r.stages[name]
	if !ok {
		s = &store.Stage{Name: name, Status: store.StagePending, ExitCode: noExitCode}
		r.stages[name] = s
		r.order = append(r.order, name)
	}
	return s
}
