package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fsLine is one line of events.jsonl.
type fsLine struct {
	Seq  uint64          `json:"seq"`
	Type string          `json:"type"`
	Time int64           `json:"time_ns"`
	Data json.RawMessage `json:"data,omitempty"`
}

// fsEvents is a loaded stream: where each event starts, so reading after an
// id is one pread.
type fsEvents struct {
	path    string
	f       *os.File // open for appending while the run is in flight; else nil
	offsets []int64  // offsets[i] is where event i+1 starts
	size    int64    // end of the last whole event
	last    uint64   // == len(offsets)
}

// events loads the stream on first use. For a run in flight a torn last
// line (a crash during a write) is cut off; for a finished run, whose stream
// was synced before its status changed, anything wrong is corruption.
// Precondition: r.mu held.
func (r *fsRun) events() (*fsEvents, error) {
	if r.ev != nil {
		return r.ev, nil
	}
	path := filepath.Join(r.dir, "events.jsonl")
	inFlight := !r.meta.Status.Terminal()
	flags := os.O_RDONLY
	if inFlight {
		flags = os.O_RDWR | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	ev := &fsEvents{path: path}
	bad, err := ev.scan(f)
	if err == nil && bad != nil {
		if inFlight {
			err = ev.cutTail(f)
		} else {
			err = fmt.Errorf("events: %s at offset %d: %w", bad, ev.size, ErrInvalid)
		}
	}
	if err != nil || !inFlight {
		f.Close()
	}
	if err != nil {
		return nil, err
	}
	if inFlight {
		ev.f = f
	}
	r.ev = ev
	return ev, nil
}

// scan indexes the whole lines of f; bad says what ended the scan early.
func (ev *fsEvents) scan(f *os.File) (bad error, err error) {
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				return errors.New("torn last line"), nil
			}
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		var l fsLine
		if jerr := json.Unmarshal(line, &l); jerr != nil || l.Seq != ev.last+1 {
			return fmt.Errorf("bad line (seq %d after %d, %v)", l.Seq, ev.last, jerr), nil
		}
		ev.offsets = append(ev.offsets, ev.size)
		ev.size += int64(len(line))
		ev.last++
	}
}

func (ev *fsEvents) cutTail(f *os.File) error {
	if err := f.Truncate(ev.size); err != nil {
		return fmt.Errorf("events: cutting a torn tail: %w", err)
	}
	return unix.Fdatasync(int(f.Fd()))
}

// append writes evs as ids last+1... in one write and syncs before
// returning. A failed write is cut back off, so the file keeps only whole
// events. Precondition: the owning run's mu held, the run in flight.
func (ev *fsEvents) append(evs []Event) (uint64, error) {
	var buf bytes.Buffer
	starts := make([]int64, len(evs))
	for i, e := range evs {
		starts[i] = ev.size + int64(buf.Len())
		b, err := json.Marshal(fsLine{Seq: ev.last + uint64(i) + 1, Type: e.Type, Time: nanos(e.Time), Data: e.Data})
		if err != nil {
			return 0, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	_, err := ev.f.Write(buf.Bytes())
	if err == nil {
		err = unix.Fdatasync(int(ev.f.Fd()))
	}
	if err != nil {
		ev.f.Truncate(ev.size)
		return 0, fmt.Errorf("events: %w", err)
	}
	ev.offsets = append(ev.offsets, starts...)
	ev.size += int64(buf.Len())
	ev.last += uint64(len(evs))
	return ev.last, nil
}

// read returns up to limit events after `after`. Precondition: the owning
// run's mu held.
func (ev *fsEvents) read(after uint64, limit int) ([]Event, error) {
	if after >= ev.last {
		return nil, nil
	}
	n := min(uint64(limit), ev.last-after)
	start, end := ev.offsets[after], ev.size
	if after+n < ev.last {
		end = ev.offsets[after+n]
	}
	f, err := os.Open(ev.path)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer f.Close()
	buf := make([]byte, end-start)
	if _, err := f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	out := make([]Event, 0, n)
	for len(buf) > 0 {
		line, rest, _ := bytes.Cut(buf, []byte{'\n'})
		buf = rest
		var l fsLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("events: line %d: %w", after+uint64(len(out))+1, err)
		}
		out = append(out, Event{Seq: l.Seq, Type: l.Type, Time: fromNanos(l.Time), Data: []byte(l.Data)})
	}
	return out, nil
}

// closeEvents closes the append handle (the run is finished or the store
// closing). Precondition: r.mu held.
func (r *fsRun) closeEvents() {
	if r.ev != nil && r.ev.f != nil {
		r.ev.f.Close()
		r.ev.f = nil
	}
}

// AppendEvents implements Events.
func (s *FS) AppendEvents(ctx context.Context, run string, evs []Event) (uint64, error) {
	evs, err := checkEvents(evs, time.Now())
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r, err := s.lockInFlight(run)
	if err != nil {
		return 0, fmt.Errorf("appending events: %w", err)
	}
	ev, err := r.events()
	var last uint64
	if err == nil {
		last, err = ev.append(evs)
	}
	r.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("appending events to %s: %w", run, err)
	}
	s.n.notify(run)
	return last, nil
}

// Events implements Events.
func (s *FS) Events(ctx context.Context, run string, after uint64, limit int) ([]Event, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	r, err := s.lockRun(run)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	ev, err := r.events()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", run, err)
	}
	return ev.read(after, limit)
}

func (s *FS) tail(ctx context.Context, run string) (uint64, bool, error) {
	r, err := s.lockRun(run)
	if err != nil {
		return 0, false, err
	}
	defer r.mu.Unlock()
	sum, err := r.summary()
	return sum.LastSeq, sum.Status.Terminal(), err
}

// WaitEvents implements Events: appends in this process wake it; the lock
// keeps every other process from writing.
func (s *FS) WaitEvents(ctx context.Context, run string, after uint64) error {
	return s.n.wait(ctx, run, after, s.tail)
}
