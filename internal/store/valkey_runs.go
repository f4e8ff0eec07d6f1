package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"
)

// summaryFields are what ListRuns reads of each run hash, in hashRun's order.
var summaryFields = []string{"name", "kind", "status", "idem", "created", "started", "ended", "error", "seq"}

func summaryRun(id string, vals []string) Run {
	return Run{ID: id, Name: vals[0], Kind: vals[1], Status: RunStatus(vals[2]), IdempotencyKey: vals[3],
		Created: fromNanos(atoi(vals[4])), Started: fromNanos(atoi(vals[5])), Ended: fromNanos(atoi(vals[6])),
		Error: vals[7], LastSeq: uint64(atoi(vals[8]))}
}

// CreateRun implements Runs.
func (v *Valkey) CreateRun(ctx context.Context, nr NewRun) (Run, bool, error) {
	if err := checkNewRun(nr); err != nil {
		return Run{}, false, err
	}
	if err := v.check(); err != nil {
		return Run{}, false, err
	}
	fp := fingerprint(nr)
	now := time.Now().UTC()
	id := v.ids.next(now)
	res, err := result(scriptCreate.Exec(ctx, v.c,
		[]string{v.k("run", id), v.k("runs"), v.k("inflight"), v.k("idem")},
		[]string{id, nr.IdempotencyKey, fp, nr.Name, nr.Kind, valkey.BinaryString(nr.Spec),
			valkey.BinaryString(nr.Input), itoa(nanos(now))}), "creating run")
	if errors.Is(err, ErrNotFound) { // the key names an existing run
		existing, _ := res.ToString()
		r, fields, err := v.getRun(ctx, existing)
		if err != nil {
			return Run{}, false, fmt.Errorf("creating run: idempotency key: %w", err)
		}
		return idempotentMatch(r, fp, fields["fp"])
	}
	if err != nil {
		return Run{}, false, err
	}
	return Run{ID: id, Name: nr.Name, Kind: nr.Kind, Status: RunQueued, Spec: nonNil(nr.Spec), Input: nonNil(nr.Input),
		IdempotencyKey: nr.IdempotencyKey, Created: fromNanos(nanos(now))}, true, nil
}

func (v *Valkey) getRun(ctx context.Context, id string) (Run, map[string]string, error) {
	if err := v.check(); err != nil {
		return Run{}, nil, err
	}
	if !ValidID(id) {
		return Run{}, nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	m, err := v.c.Do(ctx, v.c.B().Hgetall().Key(v.k("run", id)).Build()).AsStrMap()
	if err != nil {
		return Run{}, nil, fmt.Errorf("run %s: %w", id, err)
	}
	if len(m) == 0 {
		return Run{}, nil, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	vals := make([]string, len(summaryFields))
	for i, f := range summaryFields {
		vals[i] = m[f]
	}
	r := summaryRun(id, vals)
	r.Spec, r.Input = []byte(m["spec"]), []byte(m["input"])
	if rep, ok := m["report"]; ok {
		r.Report = []byte(rep)
	}
	return r, m, nil
}

// GetRun implements Runs.
func (v *Valkey) GetRun(ctx context.Context, id string) (Run, error) {
	r, _, err := v.getRun(ctx, id)
	return r, err
}

// ListRuns implements Runs: walks the id index newest first in batches,
// filtering here (a daemon's history is thousands of runs, not millions).
func (v *Valkey) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	f, err := checkFilter(f)
	if err != nil {
		return RunPage{}, err
	}
	if err := v.check(); err != nil {
		return RunPage{}, err
	}
	upper := "+"
	if f.Cursor != "" {
		upper = "(" + f.Cursor
	}
	var page RunPage
	batch := int64(max(f.Limit+1, 100))
	for {
		ids, err := v.c.Do(ctx, v.c.B().Zrevrangebylex().Key(v.k("runs")).Max(upper).Min("-").Limit(0, batch).Build()).AsStrSlice()
		if err != nil {
			return RunPage{}, fmt.Errorf("listing runs: %w", err)
		}
		cmds := make(valkey.Commands, len(ids))
		for i, id := range ids {
			cmds[i] = v.c.B().Hmget().Key(v.k("run", id)).Field(summaryFields...).Build()
		}
		for i, r := range v.c.DoMulti(ctx, cmds...) {
			vals, err := r.AsStrSlice()
			if err != nil && !isNil(err) {
				return RunPage{}, fmt.Errorf("listing runs: %w", err)
			}
			if len(vals) != len(summaryFields) || vals[2] == "" { // deleted meanwhile
				continue
			}
			run := summaryRun(ids[i], vals)
			if !f.matches(run) {
				continue
			}
			if len(page.Runs) == f.Limit {
				page.Next = page.Runs[f.Limit-1].ID
				return page, nil
			}
			page.Runs = append(page.Runs, run)
		}
		if int64(len(ids)) < batch {
			return page, nil
		}
		upper = "(" + ids[len(ids)-1]
	}
}

// UpdateRun implements Runs.
func (v *Valkey) UpdateRun(ctx context.Context, id string, u RunUpdate) (Run, error) {
	u, err := checkUpdate(u, time.Now())
	if err != nil {
		return Run{}, err
	}
	if err := v.check(); err != nil {
		return Run{}, err
	}
	if !ValidID(id) {
		return Run{}, fmt.Errorf("updating run %q: %w", id, ErrNotFound)
	}
	var from []string
	for _, s := range allowedFrom(u.Status) {
		from = append(from, string(s))
	}
	hasReport := "0"
	if u.Report != nil {
		hasReport = "1"
	}
	_, err = result(scriptUpdate.Exec(ctx, v.c, []string{v.k("run", id), v.k("inflight")},
		[]string{id, string(u.Status), strings.Join(from, ","), itoa(nanos(u.Time)), u.Error,
			valkey.BinaryString(u.Report), hasReport, v.p + "notify"}), "updating run "+id)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			err = fmt.Errorf("%w (wanted %s)", err, u.Status)
		}
		return Run{}, err
	}
	v.n.notify(id)
	return v.GetRun(ctx, id)
}

// SetStage implements Runs.
func (v *Valkey) SetStage(ctx context.Context, run string, st Stage) error {
	if err := checkStage(st); err != nil {
		return err
	}
	b, _ := json.Marshal(stageJSON(st))
	_, err := v.putInFlight(ctx, run, "setting stage "+st.Name, v.k("stages", run), v.k("stageorder", run), st.Name, string(b))
	return err
}

// putInFlight runs scriptPutInFlight and returns the field's old value.
func (v *Valkey) putInFlight(ctx context.Context, run, what, hash, order, field, value string) (string, error) {
	if err := v.check(); err != nil {
		return "", err
	}
	if !ValidID(run) {
		return "", fmt.Errorf("%s: run %q: %w", what, run, ErrNotFound)
	}
	old, err := result(scriptPutInFlight.Exec(ctx, v.c, []string{v.k("run", run), hash, order},
		[]string{field, value}), what+": run "+run)
	if err != nil {
		return "", err
	}
	s, _ := old.ToString()
	return s, nil
}

// stageRecord is a stage as JSON in P:stages:ID.
type stageRecord struct {
	Name     string      `json:"name"`
	Status   StageStatus `json:"status"`
	Attempts int         `json:"attempts"`
	Started  int64       `json:"started_ns"`
	Ended    int64       `json:"ended_ns"`
	ExitCode int         `json:"exit_code"`
	Error    string      `json:"error"`
}

func stageJSON(s Stage) stageRecord {
	return stageRecord{s.Name, s.Status, s.Attempts, nanos(s.Started), nanos(s.Ended), s.ExitCode, s.Error}
}

func (r stageRecord) stage() Stage {
	return Stage{Name: r.Name, Status: r.Status, Attempts: r.Attempts, Started: fromNanos(r.Started),
		Ended: fromNanos(r.Ended), ExitCode: r.ExitCode, Error: r.Error}
}

// Stages implements Runs.
func (v *Valkey) Stages(ctx context.Context, run string) ([]Stage, error) {
	if _, _, err := v.tail(ctx, run); err != nil {
		return nil, err
	}
	res := v.c.DoMulti(ctx, v.c.B().Lrange().Key(v.k("stageorder", run)).Start(0).Stop(-1).Build(),
		v.c.B().Hgetall().Key(v.k("stages", run)).Build())
	order, err := res[0].AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("reading stages: %w", err)
	}
	all, err := res[1].AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("reading stages: %w", err)
	}
	var out []Stage
	for _, name := range order {
		var r stageRecord
		if err := json.Unmarshal([]byte(all[name]), &r); err != nil {
			return nil, fmt.Errorf("reading stage %q: %w", name, err)
		}
		out = append(out, r.stage())
	}
	return out, nil
}

// DeleteRun implements Runs.
func (v *Valkey) DeleteRun(ctx context.Context, id string) error {
	if err := v.check(); err != nil {
		return err
	}
	if !ValidID(id) {
		return fmt.Errorf("deleting run %q: %w", id, ErrNotFound)
	}
	run, stages, order, events, outputs := v.runKeys(id)
	if _, err := result(scriptDelete.Exec(ctx, v.c,
		[]string{run, v.k("runs"), v.k("idem"), stages, order, events, outputs, v.k("inflight")},
		[]string{id, v.p + "notify"}), "deleting run "+id); err != nil {
		return err
	}
	v.n.notify(id)
	if err := v.blobs.removeRun(id); err != nil {
		return fmt.Errorf("deleting run %s: outputs: %w", id, err)
	}
	return nil
}

// RecoverAfterRestart implements Runs, run by run through the same atomic
// scripts as any write: stages, the final event, then the status. A crash
// half-way leaves a run in flight for the next call, which does not append
// the final event again.
func (v *Valkey) RecoverAfterRestart(ctx context.Context, reason string) ([]Run, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	ids, err := v.c.Do(ctx, v.c.B().Smembers().Key(v.k("inflight")).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("recovering runs: %w", err)
	}
	now := time.Now().UTC()
	var out []Run
	for _, id := range slices.Sorted(slices.Values(ids)) {
		r, err := v.GetRun(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("recovering run %s: %w", id, err)
		}
		if r.Status.Terminal() {
			continue
		}
		stages, err := v.Stages(ctx, id)
		if err != nil {
			return out, fmt.Errorf("recovering run %s: %w", id, err)
		}
		for _, st := range stages {
			if st, changed := recoverStage(st, reason, now); changed {
				if err := v.SetStage(ctx, id, st); err != nil {
					return out, fmt.Errorf("recovering run %s: %w", id, err)
				}
			}
		}
		var last []Event
		if r.LastSeq > 0 {
			if last, err = v.Events(ctx, id, r.LastSeq-1, 1); err != nil {
				return out, fmt.Errorf("recovering run %s: %w", id, err)
			}
		}
		if len(last) == 0 || last[0].Type != finishedType {
			if _, err := v.AppendEvents(ctx, id, []Event{finishedEvent(r, reason, now)}); err != nil {
				return out, fmt.Errorf("recovering run %s: %w", id, err)
			}
		}
		r, err = v.UpdateRun(ctx, id, RunUpdate{Status: RunFailed, Time: now, Error: reason})
		if err != nil {
			return out, fmt.Errorf("recovering run %s: %w", id, err)
		}
		r.Spec, r.Input, r.Report = nil, nil, nil // as ListRuns returns runs
		out = append(out, r)
	}
	return out, nil
}
