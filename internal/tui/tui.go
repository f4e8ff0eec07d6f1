// Package tui is voidbox's live terminal view of a run: panels for the
// stage graph, the selected stage's output and agent activity, tokens and
// cost, and each VM's memory and CPU. It is driven only by the typed event
// stream (internal/event), through a Source: the events of a run in this
// process, or a recorded or remote stream decoded with event.Decode — the
// same view for both.
//
// Everything drawn that came from a guest is stripped of control
// characters first: a stage's output cannot move the cursor, retitle the
// terminal or send it any escape sequence.
package tui

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/voidbox/voidbox/internal/event"
)

// Options tune the view. The zero value works for a run the view does not
// own.
type Options struct {
	// Cancel cancels the run; the view offers it (with confirmation) while
	// the run goes on. Nil: the view cannot cancel.
	Cancel func()
	// Attached says the run goes on without this view (a daemon's run):
	// quitting only detaches. Otherwise the run is this process's, and
	// quitting while it goes on cancels it (after confirmation).
	Attached bool
	// Now is the clock of the timers (time.Now by default).
	Now func() time.Time
	// Interval between timer redraws (250ms by default).
	Interval time.Duration
	// Width and Height fix the screen size, for an out that is not a
	// terminal (tests); 0: the terminal's, followed as it changes.
	Width, Height int
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	return o
}

// Run shows the events of src on the terminal behind in and out until the
// user quits. It returns when the view has been closed and the goroutine
// reading src has stopped; a src that is an io.Closer (Stream) is closed
// then, to end a read in progress.
func Run(ctx context.Context, src Source, in io.Reader, out io.Writer, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := NewModel(o)
	popts := []tea.ProgramOption{tea.WithInput(in), tea.WithOutput(out), tea.WithContext(ctx), tea.WithoutSignalHandler()}
	if o.Width > 0 && o.Height > 0 {
		popts = append(popts, tea.WithWindowSize(o.Width, o.Height))
	}
	p := tea.NewProgram(m, popts...)
	var wg sync.WaitGroup
	wg.Go(func() { pump(ctx, src, p.Send) })
	_, err := p.Run()
	cancel()
	if c, ok := src.(io.Closer); ok {
		c.Close() // a Stream's read in progress ends only so
	}
	wg.Wait()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the caller's context ended: not a failure of the view
	}
	return err
}

// pump reads src and sends its events in batches (as many as arrived
// while the last batch was being sent), so a chatty stage costs one redraw
// per batch rather than one per chunk of output.
func pump(ctx context.Context, src Source, send func(tea.Msg)) {
	const maxBatch = 256
	for {
		ev, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				send(SourceDoneMsg{Err: err})
			}
			return
		}
		batch := EventsMsg{ev}
		for len(batch) < maxBatch {
			ev, ok := tryNext(src)
			if !ok {
				break
			}
			batch = append(batch, ev)
		}
		send(batch)
	}
}

// tryNext returns the next event if one is already waiting.
func tryNext(src Source) (event.Event, bool) {
	b, ok := src.(interface{ TryNext() (event.Event, bool) })
	if !ok {
		return event.Event{}, false
	}
	return b.TryNext()
}
