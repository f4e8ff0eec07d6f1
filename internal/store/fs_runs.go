package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// fsRun is one run's in-memory state; its files are in dir.
type fsRun struct {
	dir string
	mu  sync.Mutex // guards the fields below and the run's files
	// meta mirrors run.json; stages and outputs mirror their files.
	meta    fsMeta
	stages  []Stage
	outputs map[string]fsOutput
	ev      *fsEvents // the loaded stream; nil until first needed
	gone    bool      // deleted: every operation says not found
}

// fsMeta is run.json.
type fsMeta struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Kind           string    `json:"kind"`
	Status         RunStatus `json:"status"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Fingerprint    string    `json:"fingerprint,omitempty"`
	Created        int64     `json:"created_ns"`
	Started        int64     `json:"started_ns,omitempty"`
	Ended          int64     `json:"ended_ns,omitempty"`
	Error          string    `json:"error,omitempty"`
	HasReport      bool      `json:"has_report,omitempty"`
	// LastSeq is exact once the run is terminal (its stream no longer
	// changes); for a run in flight the stream file is the truth.
	LastSeq uint64 `json:"last_seq,omitempty"`
}

func (m fsMeta) run() Run {
	return Run{ID: m.ID, Name: m.Name, Kind: m.Kind, Status: m.Status, IdempotencyKey: m.IdempotencyKey,
		Created: fromNanos(m.Created), Started: fromNanos(m.Started), Ended: fromNanos(m.Ended), Error: m.Error,
		LastSeq: m.LastSeq}
}

func setMeta(m *fsMeta, r Run) {
	m.Status, m.Started, m.Ended, m.Error = r.Status, nanos(r.Started), nanos(r.Ended), r.Error
	m.HasReport = r.Report != nil
}

func loadRun(dir string) (*fsRun, error) {
	r := &fsRun{dir: dir, outputs: map[string]fsOutput{}}
	if err := readJSON(filepath.Join(dir, "run.json"), &r.meta); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "stages.json"), &r.stages); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "outputs.json"), &r.outputs); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return r, nil
}

// summary is the run as ListRuns returns it. Precondition: r.mu held.
func (r *fsRun) summary() (Run, error) {
	run := r.meta.run()
	if !run.Status.Terminal() {
		ev, err := r.events()
		if err != nil {
			return Run{}, err
		}
		run.LastSeq = ev.last
	}
	return run, nil
}

// CreateRun implements Runs.
func (s *FS) CreateRun(ctx context.Context, nr NewRun) (Run, bool, error) {
	if err := checkNewRun(nr); err != nil {
		return Run{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Run{}, false, err
	}
	fp := fingerprint(nr)
	// s.mu is held across the disk writes so two creates with one key
	// cannot both create.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Run{}, false, ErrClosed
	}
	if id, ok := s.idem[nr.IdempotencyKey]; ok && nr.IdempotencyKey != "" {
		r := s.runs[id]
		r.mu.Lock()
		defer r.mu.Unlock()
		run, err := r.summary()
		if err != nil {
			return Run{}, false, err
		}
		run.Spec, run.Input, run.Report, err = r.blobs()
		if err != nil {
			return Run{}, false, err
		}
		return idempotentMatch(run, fp, r.meta.Fingerprint)
	}
	now := time.Now().UTC()
	id := s.ids.next(now)
	meta := fsMeta{ID: id, Name: nr.Name, Kind: nr.Kind, Status: RunQueued, IdempotencyKey: nr.IdempotencyKey,
		Fingerprint: fp, Created: nanos(now)}
	stage := filepath.Join(s.dir, "tmp", id)
	final := filepath.Join(s.dir, "runs", id)
	if err := createRunDir(stage, meta, nr); err != nil {
		os.RemoveAll(stage)
		return Run{}, false, fmt.Errorf("creating run: %w", err)
	}
	if err := os.Rename(stage, final); err != nil {
		os.RemoveAll(stage)
		return Run{}, false, fmt.Errorf("creating run: %w", err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return Run{}, false, fmt.Errorf("creating run: %w", err)
	}
	s.runs[id] = &fsRun{dir: final, meta: meta, outputs: map[string]fsOutput{}}
	s.insertSorted(id)
	if nr.IdempotencyKey != "" {
		s.idem[nr.IdempotencyKey] = id
	}
	run := meta.run()
	run.Spec, run.Input = nonNil(nr.Spec), nonNil(nr.Input)
	return run, true, nil
}

func createRunDir(dir string, meta fsMeta, nr NewRun) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"spec": nr.Spec, "input": nr.Input, "events.jsonl": nil} {
		if err := writeFileSync(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, "run.json"), meta); err != nil {
		return err
	}
	return syncDir(dir)
}

// writeFileSync writes a new file and fsyncs it (its directory is synced by
// the caller).
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// blobs reads the run's spec, input and report. Precondition: r.mu held.
func (r *fsRun) blobs() (spec, input, report []byte, err error) {
	if spec, err = os.ReadFile(filepath.Join(r.dir, "spec")); err != nil {
		return
	}
	if input, err = os.ReadFile(filepath.Join(r.dir, "input")); err != nil {
		return
	}
	if r.meta.HasReport {
		report, err = os.ReadFile(filepath.Join(r.dir, "report"))
	}
	return
}

// GetRun implements Runs.
func (s *FS) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := s.lockRun(id)
	if err != nil {
		return Run{}, err
	}
	defer r.mu.Unlock()
	run, err := r.summary()
	if err != nil {
		return Run{}, err
	}
	if run.Spec, run.Input, run.Report, err = r.blobs(); err != nil {
		return Run{}, fmt.Errorf("run %s: %w", id, err)
	}
	return run, nil
}

// ListRuns implements Runs.
func (s *FS) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	f, err := checkFilter(f)
	if err != nil {
		return RunPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return RunPage{}, ErrClosed
	}
	end := len(s.order)
	if f.Cursor != "" {
		end = sort.SearchStrings(s.order, f.Cursor) // runs before the cursor
	}
	var page RunPage
	for i := end - 1; i >= 0; i-- {
		r := s.runs[s.order[i]]
		r.mu.Lock()
		run, err := r.summary()
		r.mu.Unlock()
		if err != nil {
			return RunPage{}, err
		}
		if !f.matches(run) {
			continue
		}
		if len(page.Runs) == f.Limit {
			page.Next = page.Runs[f.Limit-1].ID
			break
		}
		page.Runs = append(page.Runs, run)
	}
	return page, nil
}

// UpdateRun implements Runs.
func (s *FS) UpdateRun(ctx context.Context, id string, u RunUpdate) (Run, error) {
	u, err := checkUpdate(u, time.Now())
	if err != nil {
		return Run{}, err
	}
	r, err := s.lockRun(id)
	if err != nil {
		return Run{}, err
	}
	defer r.mu.Unlock()
	run, err := r.setStatus(u)
	if err != nil {
		return Run{}, fmt.Errorf("updating run: %w", err)
	}
	s.n.notify(id)
	return run, nil
}

// setStatus applies u and writes it down: the report file first, then
// run.json, whose status is what counts. Precondition: r.mu held.
func (r *fsRun) setStatus(u RunUpdate) (Run, error) {
	run, err := r.summary()
	if err != nil {
		return Run{}, err
	}
	if err := applyUpdate(&run, u); err != nil {
		return Run{}, err
	}
	if run.Report != nil {
		if err := writeFileAtomic(filepath.Join(r.dir, "report"), run.Report); err != nil {
			return Run{}, err
		}
	}
	meta := r.meta
	setMeta(&meta, run)
	meta.LastSeq = run.LastSeq
	if err := writeJSON(filepath.Join(r.dir, "run.json"), meta); err != nil {
		return Run{}, err
	}
	r.meta = meta
	if run.Status.Terminal() {
		r.closeEvents()
	}
	return run, nil
}

// SetStage implements Runs.
func (s *FS) SetStage(ctx context.Context, run string, st Stage) error {
	if err := checkStage(st); err != nil {
		return err
	}
	r, err := s.lockInFlight(run)
	if err != nil {
		return fmt.Errorf("setting stage %q: %w", st.Name, err)
	}
	defer r.mu.Unlock()
	return r.setStage(st)
}

// setStage. Precondition: r.mu held.
func (r *fsRun) setStage(st Stage) error {
	st.Started, st.Ended = st.Started.UTC(), st.Ended.UTC()
	stages := append([]Stage(nil), r.stages...)
	i := 0
	for i < len(stages) && stages[i].Name != st.Name {
		i++
	}
	if i == len(stages) {
		stages = append(stages, st)
	} else {
		stages[i] = st
	}
	if err := writeJSON(filepath.Join(r.dir, "stages.json"), stages); err != nil {
		return fmt.Errorf("setting stage %q: %w", st.Name, err)
	}
	r.stages = stages
	return nil
}

// Stages implements Runs.
func (s *FS) Stages(ctx context.Context, run string) ([]Stage, error) {
	r, err := s.lockRun(run)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	return append([]Stage(nil), r.stages...), nil
}

// DeleteRun implements Runs.
func (s *FS) DeleteRun(ctx context.Context, id string) error {
	s.mu.Lock()
	r := s.runs[id]
	if s.closed || r == nil {
		s.mu.Unlock()
		if s.closed {
			return ErrClosed
		}
		return fmt.Errorf("deleting run %q: %w", id, ErrNotFound)
	}
	r.mu.Lock()
	if !r.meta.Status.Terminal() {
		r.mu.Unlock()
		s.mu.Unlock()
		return fmt.Errorf("deleting run %s: it is %s: %w", id, r.meta.Status, ErrConflict)
	}
	trash := filepath.Join(s.dir, "tmp", id)
	err := os.Rename(r.dir, trash)
	if err == nil {
		err = syncDir(filepath.Dir(r.dir))
	}
	if err != nil {
		r.mu.Unlock()
		s.mu.Unlock()
		return fmt.Errorf("deleting run %s: %w", id, err)
	}
	r.gone = true
	delete(s.runs, id)
	if i := sort.SearchStrings(s.order, id); i < len(s.order) && s.order[i] == id {
		s.order = append(s.order[:i], s.order[i+1:]...)
	}
	if r.meta.IdempotencyKey != "" {
		delete(s.idem, r.meta.IdempotencyKey)
	}
	r.mu.Unlock()
	s.mu.Unlock()
	s.n.notify(id)
	// Gone from runs/ already; what is left is garbage OpenFS also clears.
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("deleting run %s: %w", id, err)
	}
	return s.blobs.removeRun(id)
}

// RecoverAfterRestart implements Runs. Each run is finished on its own:
// stream, stages, then run.json; a crash half-way leaves the rest in flight
// for the next call, which does not append the final event again.
func (s *FS) RecoverAfterRestart(ctx context.Context, reason string) ([]Run, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	var todo []*fsRun
	for _, id := range s.order {
		todo = append(todo, s.runs[id])
	}
	s.mu.Unlock()
	now := time.Now().UTC()
	var out []Run
	for _, r := range todo {
		run, ok, err := r.recover(reason, now)
		if err != nil {
			return out, fmt.Errorf("recovering run %s: %w", r.meta.ID, err)
		}
		if ok {
			out = append(out, run)
			s.n.notify(run.ID)
		}
	}
	return out, nil
}

func (r *fsRun) recover(reason string, now time.Time) (Run, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone || r.meta.Status.Terminal() {
		return Run{}, false, nil
	}
	ev, err := r.events()
	if err != nil {
		return Run{}, false, err
	}
	var last []Event
	if ev.last > 0 {
		if last, err = ev.read(ev.last-1, 1); err != nil {
			return Run{}, false, err
		}
	}
	if len(last) == 0 || last[0].Type != finishedType {
		if _, err := ev.append([]Event{finishedEvent(r.meta.run(), reason, now)}); err != nil {
			return Run{}, false, err
		}
	}
	for _, st := range r.stages {
		if st, changed := recoverStage(st, reason, now); changed {
			if err := r.setStage(st); err != nil {
				return Run{}, false, err
			}
		}
	}
	run, err := r.setStatus(RunUpdate{Status: RunFailed, Time: now, Error: truncateError(reason)})
	return run, err == nil, err
}
