package store

import "errors"

// Categories of failure, checked with errors.Is. Every error a Store returns
// for one of these reasons wraps the sentinel with context
// (`run 0u2…: not found`).
var (
	// ErrNotFound: no run, stage output or sandbox with that id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts the stored state, such as an
	// idempotency key reused for a different run, a write to a finished
	// run, deleting a run still in flight, or a status change that is not a
	// valid transition.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request itself is malformed (bad id, status, JSON...).
	ErrInvalid = errors.New("invalid")
	// ErrTooLarge: an event or output is over the store's limits.
	ErrTooLarge = errors.New("too large")
	// ErrLocked: another process (a second daemon) holds the store.
	ErrLocked = errors.New("locked by another process")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)
