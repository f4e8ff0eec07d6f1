package store

import (
	"context"
	"time"
)

// Runs holds runs and their stage states.
type Runs interface {
	// CreateRun stores a new queued run. With an idempotency key that an
	// existing run already has, it returns that run and created=false if the
	// name, kind, spec and input are the same, and ErrConflict otherwise.
	CreateRun(ctx context.Context, r NewRun) (run Run, created bool, err error)
	GetRun(ctx context.Context, id string) (Run, error)
	ListRuns(ctx context.Context, f RunFilter) (RunPage, error)
	// UpdateRun changes a run's status (see RunUpdate for the allowed
	// changes; others fail with ErrConflict) and returns the run as stored.
	UpdateRun(ctx context.Context, id string, u RunUpdate) (Run, error)
	// SetStage creates or replaces the state of one stage. Stages keep the
	// order in which they were first set.
	SetStage(ctx context.Context, run string, s Stage) error
	Stages(ctx context.Context, run string) ([]Stage, error)
	// DeleteRun removes a terminal run with its events, stages and outputs;
	// a run in flight is ErrConflict.
	DeleteRun(ctx context.Context, id string) error
	// RecoverAfterRestart marks every run in flight failed with reason as
	// its error, marks its unfinished stages failed, appends the run.finished
	// event its engine could not, and returns the runs as they now are. A
	// daemon calls it once at start, before it runs anything.
	RecoverAfterRestart(ctx context.Context, reason string) ([]Run, error)
}

// Events holds each run's event stream.
type Events interface {
	// AppendEvents gives the events consecutive sequence ids after the run's
	// last one, stores them and returns the last id given. The run must
	// exist and be in flight.
	AppendEvents(ctx context.Context, run string, evs []Event) (last uint64, err error)
	// Events returns up to limit (1..MaxPageSize) events with ids after
	// `after`, in order.
	Events(ctx context.Context, run string, after uint64, limit int) ([]Event, error)
	// WaitEvents returns nil as soon as the run has an event after `after`
	// or is terminal, ErrNotFound if there is no such run (or it is deleted
	// while waiting), or ctx's error. It does not poll the backend: appends
	// wake it (see each implementation for how this crosses processes).
	WaitEvents(ctx context.Context, run string, after uint64) error
}

// Outputs holds stage outputs: small ones inline in the record, large ones
// (over InlineOutputMax) as files in the store's data directory.
type Outputs interface {
	// PutOutput stores (or replaces) a stage's output; the run must be in
	// flight and data at most MaxOutputBytes.
	PutOutput(ctx context.Context, run, stage string, data []byte) error
	Output(ctx context.Context, run, stage string) ([]byte, error)
	// ListOutputs lists a run's outputs, sorted by stage name.
	ListOutputs(ctx context.Context, run string) ([]OutputInfo, error)
}

// Sandboxes holds the daemon's interactive sandboxes.
type Sandboxes interface {
	CreateSandbox(ctx context.Context, config []byte) (Sandbox, error)
	GetSandbox(ctx context.Context, id string) (Sandbox, error)
	// ListSandboxes returns every sandbox, oldest first.
	ListSandboxes(ctx context.Context) ([]Sandbox, error)
	// TouchSandbox records a use (for the idle reaper).
	TouchSandbox(ctx context.Context, id string, at time.Time) error
	DeleteSandbox(ctx context.Context, id string) error
}

// Store is a daemon's durable state. Every method is safe for concurrent
// use. Close is idempotent; calls after it fail with ErrClosed.
type Store interface {
	Runs
	Events
	Outputs
	Sandboxes
	Close() error
}

// Limits every implementation enforces.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// MaxEventBytes caps one event's Data.
	MaxEventBytes = 1 << 20
	// MaxEventBatch caps the events of one AppendEvents call.
	MaxEventBatch = 10000
	// InlineOutputMax: outputs up to this size live in the record, larger
	// ones in a file.
	InlineOutputMax = 64 << 10
	// MaxOutputBytes caps one stage output (as internal/wire caps frames,
	// the store bounds what one run can make it hold).
	MaxOutputBytes = 256 << 20
	// MaxSpecBytes caps a run's Spec and Input, each.
	MaxSpecBytes = 8 << 20
)
