package pipeline

import (
	"fmt"
	"time"
)

// Node is one stage of a graph: one unit of work the Runner performs, retried
// as a whole.
type Node struct {
	// ID is the stage name, unique within the graph.
	ID string
	// Inputs are the stages whose outputs feed this one, in declaration
	// order. A node starts only after all of them succeeded.
	Inputs []string
	// Combine says how the outputs of Inputs become this node's input.
	Combine CombineMode
	// After are ordering-only dependencies: the node waits for them to
	// succeed but receives none of their data (workflow depends_on).
	After []string
	// Retries is the number of extra attempts after the first one fails.
	Retries int
	// Backoff is the delay before the first retry; each later retry doubles
	// it, capped at MaxBackoff. Zero retries at once.
	Backoff time.Duration
	// Timeout bounds each attempt; zero means no limit.
	Timeout time.Duration
	// Service marks a long-running stage (the Runner must be a
	// ServiceRunner): it counts as succeeded for its dependants once it says
	// it is ready, keeps running while the run has other stages to run, and
	// is stopped when they are done; ending on its own before that fails the
	// run. Timeout bounds the time to become ready (default
	// DefaultReadyTimeout), not the service's life. A ready service holds no
	// MaxParallel slot, so its dependants can always start.
	Service bool
	// Group is for display only: the parallel group (pipelines) or
	// topological level (workflows) the node belongs to.
	Group int
}

// Graph is a set of nodes and what the run as a whole produces.
type Graph struct {
	// Name names the run in events and reports.
	Name string
	// Nodes in declaration order. Reports list stages in this order.
	Nodes []*Node
	// MaxParallel caps how many attempts run at once across the whole
	// graph; zero means no cap. Stages waiting for a retry hold no slot.
	MaxParallel int
	// Entry lists the nodes that receive the run's input (Options.Input).
	// They must have no Inputs.
	Entry []string
	// Output lists the nodes whose outputs form the run's final output,
	// combined with OutputMode. Empty means the run has no final output.
	Output []string
	// OutputMode combines Output the way Node.Combine combines Inputs.
	OutputMode CombineMode
}

// CombineMode says how several outputs become one input.
type CombineMode int

const (
	// InputSingle passes the bytes of the only input unchanged (nil when
	// there is none). A node using it may have at most one input.
	InputSingle CombineMode = iota
	// InputArray passes a JSON array of the inputs' outputs in declaration
	// order; see CombineArray for how each output is embedded.
	InputArray
)

// String returns "single" or "array".
func (m CombineMode) String() string {
	switch m {
	case InputSingle:
		return "single"
	case InputArray:
		return "array"
	}
	return fmt.Sprintf("combine(%d)", int(m))
}

// MarshalText makes the mode read as its name in JSON.
func (m CombineMode) MarshalText() ([]byte, error) {
	if m != InputSingle && m != InputArray {
		return nil, fmt.Errorf("unknown combine mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText accepts the names MarshalText produces.
func (m *CombineMode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "single":
		*m = InputSingle
	case "array":
		*m = InputArray
	default:
		return fmt.Errorf("unknown combine mode %q", b)
	}
	return nil
}
