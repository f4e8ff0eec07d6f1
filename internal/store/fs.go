package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/voidbox/voidbox/internal/filelock"
)

// FS is the store as plain files in one directory:
//
//	LOCK                   flocked while open: a second daemon gets ErrLocked
//	FORMAT                 "voidbox-fs-store 1"
//	runs/ID/run.json       the run's record (status, times, error, ...)
//	runs/ID/spec, input    the submitted bytes; report once finished
//	runs/ID/stages.json    stage states, in first-set order
//	runs/ID/outputs.json   stage outputs: small ones inline, large ones named
//	runs/ID/events.jsonl   the event stream, append-only, one JSON line each
//	blobs/ID/...           large outputs
//	sandboxes/ID.json      daemon sandboxes
//	tmp/                   staging for new runs and deletions
//
// Durability: records are replaced atomically (temp file, fsync, rename,
// fsync the directory); a new run is staged in tmp/ and renamed into runs/
// whole; a deleted one is renamed out into tmp/ first. Each AppendEvents
// batch is one write(2) of whole lines followed by fdatasync before it
// returns, so every id handed out is on disk; a crash can only leave a torn
// last line, which opening an in-flight run's stream truncates. Ids are the
// line count, so an id given out is never given out again.
//
// The whole state's index is held in memory (the lock makes this process
// the only writer); the events are read from disk.
type FS struct {
	dir   string
	lock  *filelock.Lock
	blobs blobDir
	ids   idGen
	n     notifier

	mu sync.Mutex // guards the fields below; taken before any fsRun.mu
	// runs and order (ids ascending, the order they sort and were made in)
	// index every run; idem maps idempotency keys to run ids.
	runs      map[string]*fsRun
	order     []string
	idem      map[string]string
	sandboxes map[string]Sandbox
	closed    bool
}

var _ Store = (*FS)(nil)

const fsFormat = "voidbox-fs-store 1\n"

// OpenFS opens (creating if needed) the store in dir.
func OpenFS(ctx context.Context, dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fs store %s: %w", dir, err)
	}
	lock, err := tryLock(ctx, filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("fs store %s: %w", dir, err)
	}
	s := &FS{dir: dir, lock: lock, blobs: blobDir(filepath.Join(dir, "blobs")),
		runs: map[string]*fsRun{}, idem: map[string]string{}, sandboxes: map[string]Sandbox{}}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("fs store %s: %w", dir, err)
	}
	return s, nil
}

func (s *FS) load() error {
	format, err := os.ReadFile(filepath.Join(s.dir, "FORMAT"))
	switch {
	case os.IsNotExist(err):
		if err := writeFileAtomic(filepath.Join(s.dir, "FORMAT"), []byte(fsFormat)); err != nil {
			return err
		}
	case err != nil:
		return err
	case string(format) != fsFormat:
		return fmt.Errorf("format %q: not %q: %w", strings.TrimSpace(string(format)), strings.TrimSpace(fsFormat), ErrInvalid)
	}
	for _, d := range []string{"runs", "sandboxes", "blobs"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return err
		}
	}
	// Whatever is in tmp/ is a run that was never created or a deletion that
	// did not finish.
	if err := os.RemoveAll(filepath.Join(s.dir, "tmp")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "tmp"), 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, "runs"))
	if err != nil {
		return err
	}
	for _, e := range entries { // sorted by name, so order is ascending
		if !ValidID(e.Name()) {
			continue
		}
		r, err := loadRun(filepath.Join(s.dir, "runs", e.Name()))
		if err != nil {
			return fmt.Errorf("run %s: %w", e.Name(), err)
		}
		s.runs[r.meta.ID] = r
		s.order = append(s.order, r.meta.ID)
		if r.meta.IdempotencyKey != "" {
			s.idem[r.meta.IdempotencyKey] = r.meta.ID
		}
	}
	if err := s.blobs.prune(func(run string) (bool, error) { return s.runs[run] != nil, nil }); err != nil {
		return err
	}
	sbs, err := os.ReadDir(filepath.Join(s.dir, "sandboxes"))
	if err != nil {
		return err
	}
	for _, e := range sbs {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !ValidID(id) {
			continue
		}
		var sb fsSandbox
		if err := readJSON(filepath.Join(s.dir, "sandboxes", e.Name()), &sb); err != nil {
			return fmt.Errorf("sandbox %s: %w", id, err)
		}
		s.sandboxes[id] = sb.sandbox()
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// Close releases the lock and closes open event files. It is idempotent.
func (s *FS) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	runs := s.runs
	s.mu.Unlock()
	for _, r := range runs {
		r.mu.Lock()
		r.closeEvents()
		r.mu.Unlock()
	}
	s.n.notifyAll()
	return s.lock.Close()
}

// run finds an open store's run.
func (s *FS) run(id string) (*fsRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r := s.runs[id]
	if r == nil || !ValidID(id) {
		return nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	return r, nil
}

// lockRun finds a run and locks it; the caller unlocks r.mu. A run deleted
// between the lookup and the lock is not found.
func (s *FS) lockRun(id string) (*fsRun, error) {
	r, err := s.run(id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		return nil, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	return r, nil
}

// lockInFlight is lockRun for writes: the run must not be terminal.
func (s *FS) lockInFlight(id string) (*fsRun, error) {
	r, err := s.lockRun(id)
	if err != nil {
		return nil, err
	}
	if r.meta.Status.Terminal() {
		r.mu.Unlock()
		return nil, fmt.Errorf("run %s is %s: %w", id, r.meta.Status, ErrConflict)
	}
	return r, nil
}

// insertSorted keeps s.order ascending (ids from this process always append).
func (s *FS) insertSorted(id string) {
	i := sort.SearchStrings(s.order, id)
	s.order = append(s.order, "")
	copy(s.order[i+1:], s.order[i:])
	s.order[i] = id
}
