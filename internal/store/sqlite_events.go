package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AppendEvents implements Events. The run's last_seq is bumped by the batch
// size and the events inserted in the same transaction, so two writers
// (goroutines or, were the lock not there, processes) never get the same id.
func (s *SQLite) AppendEvents(ctx context.Context, run string, evs []Event) (uint64, error) {
	evs, err := checkEvents(evs, time.Now())
	if err != nil {
		return 0, err
	}
	var last uint64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := s.inFlight(ctx, tx, run); err != nil {
			return err
		}
		last, err = appendEventsTx(ctx, tx, run, evs)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("appending events: %w", err)
	}
	s.n.notify(run)
	return last, nil
}

// appendEventsTx stores evs after run's last event and returns the new last id.
// Precondition: run exists (checked in tx).
func appendEventsTx(ctx context.Context, tx *sql.Tx, run string, evs []Event) (uint64, error) {
	var last uint64
	if err := tx.QueryRowContext(ctx, `UPDATE runs SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq`,
		len(evs), run).Scan(&last); err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (run_id, seq, type, time_ns, data) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	first := last - uint64(len(evs)) + 1
	for i, e := range evs {
		if _, err := stmt.ExecContext(ctx, run, first+uint64(i), e.Type, nanos(e.Time), e.Data); err != nil {
			return 0, err
		}
	}
	return last, nil
}

// Events implements Events.
func (s *SQLite) Events(ctx context.Context, run string, after uint64, limit int) ([]Event, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.tail(ctx, run); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, type, time_ns, data FROM events WHERE run_id = ? AND seq > ?
		ORDER BY seq LIMIT ?`, run, int64(min(after, 1<<63-1)), limit)
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t int64
		if err := rows.Scan(&e.Seq, &e.Type, &t, &e.Data); err != nil {
			return nil, fmt.Errorf("reading events: %w", err)
		}
		e.Time = fromNanos(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *SQLite) tail(ctx context.Context, run string) (uint64, bool, error) {
	if err := s.check(); err != nil {
		return 0, false, err
	}
	if !ValidID(run) {
		return 0, false, fmt.Errorf("run %q: %w", run, ErrNotFound)
	}
	var last uint64
	var st RunStatus
	err := s.db.QueryRowContext(ctx, `SELECT last_seq, status FROM runs WHERE id = ?`, run).Scan(&last, &st)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("run %s: %w", run, ErrNotFound)
	}
	return last, st.Terminal(), err
}

// WaitEvents implements Events: appends in this process wake it. (A second
// process cannot write: the lock file keeps it out.)
func (s *SQLite) WaitEvents(ctx context.Context, run string, after uint64) error {
	return s.n.wait(ctx, run, after, s.tail)
}
