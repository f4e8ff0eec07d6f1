package pipeline

import (
	"errors"
	"fmt"
	"slices"
)

// ErrInvalid marks every problem Validate reports; check with errors.Is.
var ErrInvalid = errors.New("invalid graph")

// problem is one validation finding. It reads as a path ("stage "b":
// inputs: unknown stage "x"") and matches ErrInvalid.
type problem struct{ msg string }

func (p *problem) Error() string        { return p.msg }
func (p *problem) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &problem{msg: fmt.Sprintf(format, args...)}
}

// Validate reports every problem in g at once (errors.Join): missing or
// duplicate IDs, references to unknown stages, negative limits, a single-input
// node with several inputs, and dependency cycles, each named as a path such
// as "cycle: a -> b -> a" (arrows point from a stage to the one that waits
// for it). Each problem matches ErrInvalid.
func Validate(g *Graph) error {
	_, err := compile(g)
	return err
}

// compiled is a validated graph with its edges resolved to indices.
// Invariant: every slice is indexed by the node's position in g.Nodes.
type compiled struct {
	g          *Graph
	index      map[string]int
	inputs     [][]int // data inputs, declaration order
	deps       [][]int // inputs then after, de-duplicated
	dependents [][]int // reverse of deps
	order      []int   // topological, ties broken by declaration order
	level      []int   // longest dependency chain above the node
	entry      []bool
	output     []int
}

func compile(g *Graph) (*compiled, error) {
	if g == nil {
		return nil, invalidf("nil graph")
	}
	var errs []error
	c := &compiled{g: g, index: make(map[string]int, len(g.Nodes))}
	if g.MaxParallel < 0 {
		errs = append(errs, invalidf("max_parallel: negative (%d)", g.MaxParallel))
	}
	badIDs := false
	for i, n := range g.Nodes {
		badIDs = badIDs || n == nil || n.ID == ""
		switch {
		case n == nil:
			errs = append(errs, invalidf("nodes[%d]: nil", i))
		case n.ID == "":
			errs = append(errs, invalidf("nodes[%d]: empty id", i))
		default:
			if j, dup := c.index[n.ID]; dup {
				errs = append(errs, invalidf("stage %q: declared twice (nodes[%d] and nodes[%d])", n.ID, j, i))
				badIDs = true
				continue
			}
			c.index[n.ID] = i
		}
	}
	if badIDs {
		// Without unique IDs the references below cannot be resolved.
		return nil, errors.Join(errs...)
	}
	n := len(g.Nodes)
	c.inputs = make([][]int, n)
	c.deps = make([][]int, n)
	c.dependents = make([][]int, n)
	c.entry = make([]bool, n)
	for i, node := range g.Nodes {
		errs = append(errs, c.resolveNode(i, node)...)
	}
	for _, id := range g.Entry {
		i, ok := c.index[id]
		switch {
		case !ok:
			errs = append(errs, invalidf("entry: unknown stage %q", id))
		case len(g.Nodes[i].Inputs) > 0:
			errs = append(errs, invalidf("entry: stage %q has inputs", id))
		default:
			c.entry[i] = true
		}
	}
	for _, id := range g.Output {
		if i, ok := c.index[id]; ok {
			c.output = append(c.output, i)
		} else {
			errs = append(errs, invalidf("output: unknown stage %q", id))
		}
	}
	if err := checkCombine(g.OutputMode, len(g.Output)); err != nil {
		errs = append(errs, invalidf("output: %v", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cycles := c.findCycles(); len(cycles) > 0 {
		return nil, errors.Join(cycles...)
	}
	c.sortTopological()
	return c, nil
}

// resolveNode checks one node's fields and records its edges.
func (c *compiled) resolveNode(i int, n *Node) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, invalidf("stage %q: "+format, append([]any{n.ID}, args...)...))
	}
	if n.Retries < 0 {
		bad("retries: negative (%d)", n.Retries)
	}
	if n.Backoff < 0 {
		bad("backoff: negative (%s)", n.Backoff)
	}
	if n.Timeout < 0 {
		bad("timeout: negative (%s)", n.Timeout)
	}
	if err := checkCombine(n.Combine, len(n.Inputs)); err != nil {
		bad("%v", err)
	}
	resolve := func(field string, refs []string, data bool) {
		for _, ref := range refs {
			j, ok := c.index[ref]
			switch {
			case !ok:
				bad("%s: unknown stage %q", field, ref)
			case j == i:
				bad("%s: depends on itself", field)
			case data && slices.Contains(c.inputs[i], j):
				bad("%s: %q listed twice", field, ref)
			default:
				if data {
					c.inputs[i] = append(c.inputs[i], j)
				}
				if !slices.Contains(c.deps[i], j) {
					c.deps[i] = append(c.deps[i], j)
					c.dependents[j] = append(c.dependents[j], i)
				}
			}
		}
	}
	resolve("inputs", n.Inputs, true)
	resolve("after", n.After, false)
	return errs
}

func checkCombine(m CombineMode, inputs int) error {
	switch m {
	case InputSingle:
		if inputs > 1 {
			return fmt.Errorf("combine single with %d inputs (use array)", inputs)
		}
	case InputArray:
	default:
		return fmt.Errorf("unknown combine mode %d", int(m))
	}
	return nil
}
