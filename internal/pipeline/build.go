package pipeline

import (
	"errors"
	"slices"
)

// PipelineBuilder builds the graph of a pipeline: a sequence of groups, each
// one stage (Pipe) or several in parallel (FanOut). Every stage of group k
// takes group k-1's output: the one stage's output unchanged after a Pipe, or
// after a FanOut a JSON array of the branches' outputs in the order the
// branches were declared. The first group receives the run's input; the last
// group's output, combined the same way, is the run's output.
type PipelineBuilder struct {
	g    Graph
	prev []string // IDs of the previous group
	mode CombineMode
	errs []error
}

// NewPipeline starts an empty pipeline.
func NewPipeline(name string) *PipelineBuilder {
	return &PipelineBuilder{g: Graph{Name: name}}
}

// Pipe appends a group of one stage.
func (b *PipelineBuilder) Pipe(n Node) *PipelineBuilder {
	b.group([]Node{n}, InputSingle)
	return b
}

// FanOut appends a group of stages that run in parallel.
func (b *PipelineBuilder) FanOut(ns ...Node) *PipelineBuilder {
	if len(ns) == 0 {
		b.errs = append(b.errs, invalidf("group %d: fan-out with no stages", b.groups()))
		return b
	}
	b.group(ns, InputArray)
	return b
}

// MaxParallel caps concurrent attempts (0: no cap).
func (b *PipelineBuilder) MaxParallel(k int) *PipelineBuilder {
	b.g.MaxParallel = k
	return b
}

// Build validates and returns the graph. The nodes in it are copies of the
// ones passed to Pipe and FanOut, with Inputs, Combine and Group filled in.
func (b *PipelineBuilder) Build() (*Graph, error) {
	errs := slices.Clone(b.errs)
	if len(b.g.Nodes) == 0 && len(errs) == 0 {
		errs = append(errs, invalidf("pipeline has no stages"))
	}
	if err := Validate(&b.g); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	g := b.g
	g.Nodes = slices.Clone(b.g.Nodes)
	return &g, nil
}

func (b *PipelineBuilder) groups() int {
	if len(b.g.Nodes) == 0 {
		return 0
	}
	return b.g.Nodes[len(b.g.Nodes)-1].Group + 1
}

func (b *PipelineBuilder) group(ns []Node, mode CombineMode) {
	k := b.groups()
	ids := make([]string, 0, len(ns))
	for _, n := range ns {
		if len(n.Inputs) > 0 || len(n.After) > 0 {
			b.errs = append(b.errs, invalidf("stage %q: inputs and after are set by the pipeline's order", n.ID))
		}
		n.Inputs, n.After, n.Combine, n.Group = slices.Clone(b.prev), nil, b.mode, k
		b.g.Nodes = append(b.g.Nodes, &n)
		ids = append(ids, n.ID)
	}
	if k == 0 {
		b.g.Entry = ids
	}
	b.prev, b.mode = ids, mode
	b.g.Output, b.g.OutputMode = ids, mode
}

// Step is one workflow step: a node plus the workflow's own way of naming
// dependencies.
type Step struct {
	// Node's Inputs, After, Combine and Group are filled in by NewWorkflow
	// and must be left empty.
	Node Node
	// DependsOn orders the step after others without passing data.
	DependsOn []string
	// StdinFrom names the step whose output becomes this step's input; it
	// implies depending on it.
	StdinFrom string
}

// NewWorkflow builds the graph of a workflow: a DAG from depends_on, data
// only along stdin_from, and the output step's output as the run's output
// (none when outputStep is empty). Group is set to each step's topological
// level. A workflow has no Entry: set Graph.Entry to feed the run's input to
// chosen steps.
func NewWorkflow(name string, steps []Step, outputStep string) (*Graph, error) {
	g := &Graph{Name: name}
	var errs []error
	for _, s := range steps {
		n := s.Node
		if len(n.Inputs) > 0 || len(n.After) > 0 {
			errs = append(errs, invalidf("stage %q: inputs and after come from depends_on and stdin_from", n.ID))
		}
		n.Inputs, n.After, n.Combine = nil, nil, InputSingle
		if s.StdinFrom != "" {
			n.Inputs = []string{s.StdinFrom}
		}
		for _, d := range s.DependsOn {
			if d != s.StdinFrom && !slices.Contains(n.After, d) {
				n.After = append(n.After, d)
			}
		}
		g.Nodes = append(g.Nodes, &n)
	}
	if outputStep != "" {
		g.Output = []string{outputStep}
	}
	c, err := compile(g)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i, n := range g.Nodes {
		n.Group = c.level[i]
	}
	return g, nil
}
