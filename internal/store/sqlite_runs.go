package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// runCols are the columns scanRun reads, in order; listCols leaves out the
// large ones (ListRuns does not return them).
const (
	runCols  = `id, name, kind, status, idem_key, created_ns, started_ns, ended_ns, error, last_seq, spec, input, report`
	listCols = `id, name, kind, status, idem_key, created_ns, started_ns, ended_ns, error, last_seq, NULL, NULL, NULL`
)

type scanner interface{ Scan(...any) error }

func scanRun(row scanner) (Run, error) {
	var r Run
	var created, started, ended int64
	err := row.Scan(&r.ID, &r.Name, &r.Kind, &r.Status, &r.IdempotencyKey, &created, &started, &ended,
		&r.Error, &r.LastSeq, &r.Spec, &r.Input, &r.Report)
	r.Created, r.Started, r.Ended = fromNanos(created), fromNanos(started), fromNanos(ended)
	return r, err
}

func (s *SQLite) getRun(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (Run, error) {
	if !ValidID(id) {
		return Run{}, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	return r, err
}

// CreateRun implements Runs.
func (s *SQLite) CreateRun(ctx context.Context, nr NewRun) (Run, bool, error) {
	if err := checkNewRun(nr); err != nil {
		return Run{}, false, err
	}
	fp := fingerprint(nr)
	var run Run
	created := true
	err := s.write(ctx, func(tx *sql.Tx) error {
		if nr.IdempotencyKey != "" {
			var storedFP string
			r, err := scanRunFP(tx.QueryRowContext(ctx, `SELECT `+runCols+`, fingerprint FROM runs WHERE idem_key = ?`,
				nr.IdempotencyKey), &storedFP)
			if err == nil {
				run, created, err = idempotentMatch(r, fp, storedFP)
				return err
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		now := time.Now().UTC()
		run = Run{ID: s.ids.next(now), Name: nr.Name, Kind: nr.Kind, Status: RunQueued, Spec: nr.Spec,
			Input: nr.Input, IdempotencyKey: nr.IdempotencyKey, Created: now}
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, name, kind, status, spec, input, idem_key, fingerprint, created_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, run.ID, run.Name, run.Kind, run.Status, nonNil(run.Spec), nonNil(run.Input),
			run.IdempotencyKey, fp, nanos(now))
		return err
	})
	if err != nil {
		return Run{}, false, fmt.Errorf("creating run: %w", err)
	}
	return run, created, nil
}

func scanRunFP(row *sql.Row, fp *string) (Run, error) {
	var r Run
	var created, started, ended int64
	err := row.Scan(&r.ID, &r.Name, &r.Kind, &r.Status, &r.IdempotencyKey, &created, &started, &ended,
		&r.Error, &r.LastSeq, &r.Spec, &r.Input, &r.Report, fp)
	r.Created, r.Started, r.Ended = fromNanos(created), fromNanos(started), fromNanos(ended)
	return r, err
}

// nonNil keeps an empty (but given) byte slice from being stored as NULL,
// so what was submitted reads back the same.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// GetRun implements Runs.
func (s *SQLite) GetRun(ctx context.Context, id string) (Run, error) {
	if err := s.check(); err != nil {
		return Run{}, err
	}
	return s.getRun(ctx, s.db, id)
}

// ListRuns implements Runs.
func (s *SQLite) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	f, err := checkFilter(f)
	if err != nil {
		return RunPage{}, err
	}
	if err := s.check(); err != nil {
		return RunPage{}, err
	}
	var where []string
	var args []any
	if len(f.Status) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(f.Status)-1)+")")
		for _, st := range f.Status {
			args = append(args, st)
		}
	}
	if f.Name != "" {
		where, args = append(where, "name = ?"), append(args, f.Name)
	}
	if f.Cursor != "" {
		where, args = append(where, "id < ?"), append(args, f.Cursor)
	}
	q := `SELECT ` + listCols + ` FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, f.Limit+1)...)
	if err != nil {
		return RunPage{}, fmt.Errorf("listing runs: %w", err)
	}
	defer rows.Close()
	var page RunPage
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return RunPage{}, fmt.Errorf("listing runs: %w", err)
		}
		page.Runs = append(page.Runs, r)
	}
	if err := rows.Err(); err != nil {
		return RunPage{}, fmt.Errorf("listing runs: %w", err)
	}
	if len(page.Runs) > f.Limit {
		page.Runs = page.Runs[:f.Limit]
		page.Next = page.Runs[f.Limit-1].ID
	}
	return page, nil
}

// UpdateRun implements Runs.
func (s *SQLite) UpdateRun(ctx context.Context, id string, u RunUpdate) (Run, error) {
	u, err := checkUpdate(u, time.Now())
	if err != nil {
		return Run{}, err
	}
	var run Run
	err = s.write(ctx, func(tx *sql.Tx) error {
		if run, err = s.getRun(ctx, tx, id); err != nil {
			return err
		}
		if err := applyUpdate(&run, u); err != nil {
			return err
		}
		return s.saveStatus(ctx, tx, run)
	})
	if err != nil {
		return Run{}, fmt.Errorf("updating run: %w", err)
	}
	s.n.notify(id)
	return run, nil
}

func (s *SQLite) saveStatus(ctx context.Context, tx *sql.Tx, r Run) error {
	_, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, started_ns = ?, ended_ns = ?, error = ?, report = ? WHERE id = ?`,
		r.Status, nanos(r.Started), nanos(r.Ended), r.Error, r.Report, r.ID)
	return err
}

// inFlight fails unless run exists and is not terminal.
func (s *SQLite) inFlight(ctx context.Context, tx *sql.Tx, run string) error {
	if !ValidID(run) {
		return fmt.Errorf("run %q: %w", run, ErrNotFound)
	}
	var st RunStatus
	err := tx.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = ?`, run).Scan(&st)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("run %s: %w", run, ErrNotFound)
	case err != nil:
		return err
	case st.Terminal():
		return fmt.Errorf("run %s is %s: %w", run, st, ErrConflict)
	}
	return nil
}

// SetStage implements Runs.
func (s *SQLite) SetStage(ctx context.Context, run string, st Stage) error {
	if err := checkStage(st); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.inFlight(ctx, tx, run); err != nil {
			return err
		}
		return upsertStage(ctx, tx, run, st)
	})
	if err != nil {
		return fmt.Errorf("setting stage %q: %w", st.Name, err)
	}
	return nil
}

func upsertStage(ctx context.Context, tx *sql.Tx, run string, st Stage) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stages (run_id, name, pos, status, attempts, started_ns, ended_ns, exit_code, error)
		VALUES (?1, ?2, (SELECT COALESCE(MAX(pos), 0) + 1 FROM stages WHERE run_id = ?1), ?3, ?4, ?5, ?6, ?7, ?8)
		ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
		started_ns = excluded.started_ns, ended_ns = excluded.ended_ns, exit_code = excluded.exit_code, error = excluded.error`,
		run, st.Name, st.Status, st.Attempts, nanos(st.Started), nanos(st.Ended), st.ExitCode, st.Error)
	return err
}

// Stages implements Runs.
func (s *SQLite) Stages(ctx context.Context, run string) ([]Stage, error) {
	if _, err := s.GetRun(ctx, run); err != nil {
		return nil, err
	}
	return queryStages(ctx, s.db, run)
}

func queryStages(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, run string) ([]Stage, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, status, attempts, started_ns, ended_ns, exit_code, error
		FROM stages WHERE run_id = ? ORDER BY pos`, run)
	if err != nil {
		return nil, fmt.Errorf("reading stages: %w", err)
	}
	defer rows.Close()
	var out []Stage
	for rows.Next() {
		var st Stage
		var started, ended int64
		if err := rows.Scan(&st.Name, &st.Status, &st.Attempts, &started, &ended, &st.ExitCode, &st.Error); err != nil {
			return nil, fmt.Errorf("reading stages: %w", err)
		}
		st.Started, st.Ended = fromNanos(started), fromNanos(ended)
		out = append(out, st)
	}
	return out, rows.Err()
}

// DeleteRun implements Runs.
func (s *SQLite) DeleteRun(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := s.getRun(ctx, tx, id)
		if err != nil {
			return err
		}
		if !r.Status.Terminal() {
			return fmt.Errorf("run %s is %s: %w", id, r.Status, ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM runs WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting run: %w", err)
	}
	s.n.notify(id)
	// After the commit: a crash before this leaves files OpenSQLite prunes.
	if err := s.blobs.removeRun(id); err != nil {
		return fmt.Errorf("deleting run %s: outputs: %w", id, err)
	}
	return nil
}

// RecoverAfterRestart implements Runs.
func (s *SQLite) RecoverAfterRestart(ctx context.Context, reason string) ([]Run, error) {
	now := time.Now().UTC()
	var out []Run
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+listCols+` FROM runs WHERE status IN (?, ?) ORDER BY id`, RunQueued, RunRunning)
		if err != nil {
			return err
		}
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			r := &out[i]
			stages, err := queryStages(ctx, tx, r.ID)
			if err != nil {
				return err
			}
			for _, st := range stages {
				if st, changed := recoverStage(st, reason, now); changed {
					if err := upsertStage(ctx, tx, r.ID, st); err != nil {
						return err
					}
				}
			}
			var lastType string
			err = tx.QueryRowContext(ctx, `SELECT type FROM events WHERE run_id = ? AND seq = ?`, r.ID, r.LastSeq).Scan(&lastType)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if lastType != finishedType {
				if r.LastSeq, err = appendEventsTx(ctx, tx, r.ID, []Event{finishedEvent(*r, reason, now)}); err != nil {
					return err
				}
			}
			if err := applyUpdate(r, RunUpdate{Status: RunFailed, Time: now, Error: truncateError(reason)}); err != nil {
				return err
			}
			if err := s.saveStatus(ctx, tx, *r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recovering runs: %w", err)
	}
	for _, r := range out {
		s.n.notify(r.ID)
	}
	return out, nil
}
