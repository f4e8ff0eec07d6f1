package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PutOutput implements Outputs.
func (s *SQLite) PutOutput(ctx context.Context, run, stage string, data []byte) error {
	if err := checkOutput(stage, data); err != nil {
		return err
	}
	var old string
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.inFlight(ctx, tx, run); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT file FROM outputs WHERE run_id = ? AND stage = ?`, run, stage).
			Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		inline, file := nonNil(data), ""
		if len(data) > InlineOutputMax {
			var err error
			if file, err = s.blobs.write(run, stage, data); err != nil {
				return err
			}
			inline = nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outputs (run_id, stage, size, data, file) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (run_id, stage) DO UPDATE SET size = excluded.size, data = excluded.data, file = excluded.file`,
			run, stage, len(data), inline, file)
		return err
	})
	if err != nil {
		return fmt.Errorf("storing output of %q: %w", stage, err)
	}
	if old != "" {
		s.blobs.remove(run, old)
	}
	return nil
}

// Output implements Outputs.
func (s *SQLite) Output(ctx context.Context, run, stage string) ([]byte, error) {
	if _, _, err := s.tail(ctx, run); err != nil {
		return nil, err
	}
	var data []byte
	var file string
	err := s.db.QueryRowContext(ctx, `SELECT data, file FROM outputs WHERE run_id = ? AND stage = ?`, run, stage).Scan(&data, &file)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("output of stage %q: %w", stage, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("output of stage %q: %w", stage, err)
	case file != "":
		return s.blobs.read(run, file)
	}
	return nonNil(data), nil
}

// ListOutputs implements Outputs.
func (s *SQLite) ListOutputs(ctx context.Context, run string) ([]OutputInfo, error) {
	if _, _, err := s.tail(ctx, run); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT stage, size FROM outputs WHERE run_id = ? ORDER BY stage`, run)
	if err != nil {
		return nil, fmt.Errorf("listing outputs: %w", err)
	}
	defer rows.Close()
	var out []OutputInfo
	for rows.Next() {
		var o OutputInfo
		if err := rows.Scan(&o.Stage, &o.Size); err != nil {
			return nil, fmt.Errorf("listing outputs: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CreateSandbox implements Sandboxes.
func (s *SQLite) CreateSandbox(ctx context.Context, config []byte) (Sandbox, error) {
	if err := checkSandboxConfig(config); err != nil {
		return Sandbox{}, err
	}
	now := time.Now().UTC()
	sb := Sandbox{ID: s.ids.next(now), Config: config, Created: now, LastUsed: now}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sandboxes VALUES (?, ?, ?, ?)`, sb.ID, config, nanos(now), nanos(now))
		return err
	})
	if err != nil {
		return Sandbox{}, fmt.Errorf("creating sandbox: %w", err)
	}
	return sb, nil
}

// GetSandbox implements Sandboxes.
func (s *SQLite) GetSandbox(ctx context.Context, id string) (Sandbox, error) {
	if err := s.check(); err != nil {
		return Sandbox{}, err
	}
	if !ValidID(id) {
		return Sandbox{}, fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	sb, err := scanSandbox(s.db.QueryRowContext(ctx, `SELECT id, config, created_ns, last_used_ns FROM sandboxes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Sandbox{}, fmt.Errorf("sandbox %s: %w", id, ErrNotFound)
	}
	return sb, err
}

func scanSandbox(row scanner) (Sandbox, error) {
	var sb Sandbox
	var c, u int64
	err := row.Scan(&sb.ID, &sb.Config, &c, &u)
	sb.Created, sb.LastUsed = fromNanos(c), fromNanos(u)
	return sb, err
}

// ListSandboxes implements Sandboxes.
func (s *SQLite) ListSandboxes(ctx context.Context) ([]Sandbox, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, config, created_ns, last_used_ns FROM sandboxes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	defer rows.Close()
	var out []Sandbox
	for rows.Next() {
		sb, err := scanSandbox(rows)
		if err != nil {
			return nil, fmt.Errorf("listing sandboxes: %w", err)
		}
		out = append(out, sb)
	}
	return out, rows.Err()
}

// TouchSandbox implements Sandboxes.
func (s *SQLite) TouchSandbox(ctx context.Context, id string, at time.Time) error {
	return s.sandboxWrite(ctx, id, `UPDATE sandboxes SET last_used_ns = ? WHERE id = ?`, nanos(at.UTC()), id)
}

// DeleteSandbox implements Sandboxes.
func (s *SQLite) DeleteSandbox(ctx context.Context, id string) error {
	return s.sandboxWrite(ctx, id, `DELETE FROM sandboxes WHERE id = ?`, id)
}

func (s *SQLite) sandboxWrite(ctx context.Context, id, q string, args ...any) error {
	if !ValidID(id) {
		return fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("sandbox %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sandbox %s: %w", id, ErrNotFound)
		}
		return nil
	})
}
