package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voidbox/voidbox/internal/filelock"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// SQLite is the store in one SQLite database file (WAL mode), with large
// outputs in the directory PATH.data beside it. PATH.lock is flocked while
// it is open, so a second daemon on the same file is refused (ErrLocked).
type SQLite struct {
	db    *sql.DB
	lock  *filelock.Lock
	blobs blobDir
	ids   idGen
	n     notifier
	// wmu queues this process's write transactions: SQLite has one writer
	// at a time anyway, and waiting on a mutex is cheaper and fairer than
	// its busy handler's sleeps.
	wmu       sync.Mutex
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLite)(nil)

// sqliteParams: WAL so readers never block the writer; synchronous=FULL so a
// commit that returned survives power loss as well as a crash (the fs store
// makes the same promise with fsync); foreign keys for ON DELETE CASCADE;
// BEGIN IMMEDIATE so a write transaction takes the write lock up front
// instead of failing to upgrade later; a busy timeout for anyone else
// (sqlite3 shell, backups) holding the database briefly.
const sqliteParams = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
	"&_pragma=foreign_keys(1)&_txlock=immediate"

// OpenSQLite opens (creating if needed) the database at path and brings its
// schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite store %s: path must not contain ? or #: %w", path, ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	lock, err := tryLock(ctx, path+".lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", path+sqliteParams)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	s := &SQLite{db: db, lock: lock, blobs: blobDir(path + ".data")}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	if err := s.blobs.prune(func(run string) (bool, error) {
		err := s.db.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, run).Scan(new(int))
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite store %s: removing outputs of deleted runs: %w", path, err)
	}
	return s, nil
}

// tryLock takes the flock at path or fails at once with ErrLocked.
func tryLock(ctx context.Context, path string) (*filelock.Lock, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l, err := filelock.Acquire(ctx, path, cancel)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, err
	}
	return l, nil
}

// Close closes the database and releases the lock. It is idempotent.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.wmu.Lock() // let a write in progress finish
		s.closeErr = s.db.Close()
		s.wmu.Unlock()
		s.lock.Close()
		s.n.notifyAll()
	})
	return s.closeErr
}

func (s *SQLite) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE), committing if it
// returns nil.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// migrations are applied in order, each once, recorded in
// schema_migrations. Never edit one that has shipped: add another.
var migrations = []string{
	1: `
CREATE TABLE runs (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL,
	spec        BLOB,
	input       BLOB,
	idem_key    TEXT NOT NULL DEFAULT '',
	fingerprint TEXT NOT NULL DEFAULT '',
	created_ns  INTEGER NOT NULL,
	started_ns  INTEGER NOT NULL DEFAULT 0,
	ended_ns    INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	report      BLOB,
	last_seq    INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX runs_idem ON runs(idem_key) WHERE idem_key <> '';
CREATE INDEX runs_status ON runs(status, id);
CREATE INDEX runs_name ON runs(name, id);
CREATE TABLE stages (
	run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	pos        INTEGER NOT NULL,
	status     TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	started_ns INTEGER NOT NULL,
	ended_ns   INTEGER NOT NULL,
	exit_code  INTEGER NOT NULL,
	error      TEXT NOT NULL,
	PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE TABLE events (
	run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	type    TEXT NOT NULL,
	time_ns INTEGER NOT NULL,
	data    BLOB,
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE outputs (
	run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	stage  TEXT NOT NULL,
	size   INTEGER NOT NULL,
	data   BLOB,
	file   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, stage)
) WITHOUT ROWID;
CREATE TABLE sandboxes (
	id           TEXT PRIMARY KEY,
	config       BLOB NOT NULL,
	created_ns   INTEGER NOT NULL,
	last_used_ns INTEGER NOT NULL
);`,
}

func (s *SQLite) migrate(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, applied_ns INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		if have >= len(migrations) {
			return fmt.Errorf("schema version %d is newer than this voidbox knows (%d)", have, len(migrations)-1)
		}
		for v := have + 1; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("schema migration %d: %w", v, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("schema migration %d: %w", v, err)
			}
		}
		return nil
	})
}
