//go:build !unix

package admission

import (
	"context"
	"errors"
	"time"
)

// Gate is not available off unix (voidbox boots VMs on Linux only).
type Gate struct{}

// Request is one VM asking to start.
type Request struct {
	Name      string
	MemoryMiB int64
}

// Slot is an admitted VM's hold on the budget.
type Slot struct{}

// Usage is the host's admission state.
type Usage struct {
	Waiting, Booting, Running int
	MemoryInUseMiB            int64
}

var errUnsupported = errors.New("admission: VM admission needs a unix host (flock)")

// New fails off unix.
func New(string, Budget) (*Gate, error) { return nil, errUnsupported }

// DefaultDir is empty off unix.
func DefaultDir() string { return "" }

func (*Gate) Budget() Budget        { return Budget{} }
func (*Gate) Dir() string           { return "" }
func (*Gate) Usage() (Usage, error) { return Usage{}, errUnsupported }
func (*Gate) Acquire(context.Context, Request, func(Status)) (*Slot, error) {
	return nil, errUnsupported
}
func (*Slot) Waited() time.Duration { return 0 }
func (*Slot) Booted()               {}
func (*Slot) Release()              {}
