package voidbox

import (
	"log/slog"

	"github.com/voidbox/voidbox/internal/warm"
)

// WarmStarts keeps warm starts across runs: the template snapshot of each
// sandbox configuration, taken by the first VM that needs it, and with a
// pool that many restored VMs parked ahead of need. What a long-lived
// process (the daemon, a benchmark, a service running many pipelines)
// holds in HostOptions.Warm; without it each run keeps its own, removed
// when the run ends. Safe for concurrent runs. Templates hold nothing of a
// stage (env, files and commands reach a VM only after its restore).
type WarmStarts struct {
	s *warm.Starter
}

// WarmOptions configure WarmStarts.
type WarmOptions struct {
	// Pool is how many restored VMs each configuration keeps parked (0:
	// none; at most 32). Each is handed out once, never returned.
	Pool int
	// Logger receives warm-start logs; nil discards them.
	Logger *slog.Logger
}

// NewWarmStarts returns an empty WarmStarts; close it when done.
func NewWarmStarts(o WarmOptions) (*WarmStarts, error) {
	s, err := warm.New("", warm.Options{Pool: o.Pool, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &WarmStarts{s: s}, nil
}

// Close stops the parked VMs and every VM handed out from the pool (so
// close it after the runs that use it), and removes the templates.
// Idempotent.
func (w *WarmStarts) Close() error { return w.s.Close() }

// Parked is how many VMs are parked and ready right now (a pool refills
// in the background after each start).
func (w *WarmStarts) Parked() int { return w.s.Parked() }
