// Package progress shows a run's live progress from its event stream: a
// redrawn per-stage block on a terminal, plain append-only lines elsewhere,
// and a final report table.
//
// Everything printed that may come from a guest (stage output, error text) is
// stripped of control characters first, so a stage cannot move the cursor or
// retitle the user's terminal.
package progress

import (
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/voidbox/voidbox/internal/event"
)

// Mode selects how progress is drawn.
type Mode int

const (
	// Auto draws Live when the writer is a terminal, Plain otherwise.
	Auto Mode = iota
	// Plain appends one line per event; the output depends only on the
	// events, so it can be compared with golden text.
	Plain
	// Live redraws one line per stage in place with ANSI cursor movement.
	Live
)

// Options tune a Renderer. The zero value works.
type Options struct {
	Mode Mode
	// ShowOutput prints stage output (exec.output events) line by line.
	ShowOutput bool
	// Now is the clock for elapsed times in Live mode; time.Now by default.
	// Plain mode uses only the events' own timestamps.
	Now func() time.Time
	// Interval between Live redraws; 200ms (5 per second) by default.
	Interval time.Duration
	// Width caps Live lines so they never wrap (a wrapped line would break
	// the redraw). Default: the terminal's width, else 100.
	Width int
}

// Renderer is a pipeline.Sink that draws progress on a writer. It is safe
// for concurrent emitters. Call Close when the run has finished.
type Renderer struct {
	opts Options
	live bool

	mu     sync.Mutex
	w      io.Writer     // guarded by mu
	err    error         // guarded by mu; first write error
	run    string        // guarded by mu
	start  time.Time     // guarded by mu; run.started time
	stages []*stageState // guarded by mu; in the order first seen
	byName map[string]*stageState
	drawn  int      // guarded by mu; lines of the Live block on screen
	above  []string // guarded by mu; Live output lines not yet printed
	done   bool     // guarded by mu; run.finished seen

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// stageState is what the renderer knows about one stage.
type stageState struct {
	name   string
	state  string // pending, queued, waiting, running, retrying or a final status
	detail string // what a waiting stage waits for
	// queuedShown: Plain printed this wait's vm.queued line (later ones,
	// as the queue moves, would flood a log).
	queuedShown bool
	attempt     int
	started     time.Time // first attempt's start (event time)
	ended       time.Time
	lines       lineBuffer
}

// New returns a renderer writing to w. In Live mode it starts a redraw
// goroutine that Close stops.
func New(w io.Writer, opts Options) *Renderer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	r := &Renderer{opts: opts, w: w, byName: map[string]*stageState{}, stop: make(chan struct{})}
	switch opts.Mode {
	case Live:
		r.live = true
	case Auto:
		r.live = isTerminal(w)
	}
	if r.live {
		if r.opts.Width <= 0 {
			r.opts.Width = terminalWidth(w)
		}
		r.wg.Go(r.tick)
	}
	return r
}

// Emit records ev and draws it.
func (r *Renderer) Emit(ev event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apply(ev)
	if r.live {
		r.collectOutput(ev)
		r.redraw()
		return
	}
	r.printPlain(ev)
}

// Close stops the redraw goroutine and draws the final state. It returns the
// first error met writing to w. Calling it again does nothing more.
func (r *Renderer) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		r.wg.Wait()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.flushPartial()
		if r.live {
			r.redraw()
		}
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Renderer) tick() {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.redraw()
			r.mu.Unlock()
		}
	}
}

// write sends b to w, keeping the first error. Precondition: mu is held.
func (r *Renderer) write(b []byte) {
	if r.err != nil || len(b) == 0 {
		return
	}
	if _, err := r.w.Write(b); err != nil {
		r.err = err
	}
}

// fder is implemented by *os.File.
type fder interface{ Fd() uintptr }

func isTerminal(w io.Writer) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

func terminalWidth(w io.Writer) int {
	if f, ok := w.(fder); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 100
}

var _ event.Sink = (*Renderer)(nil)
var _ fder = (*os.File)(nil)
