package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/voidbox/voidbox/internal/plural"
)

// Plan is what a graph would do, for `voidbox inspect`. In JSON:
//
//	name, max_parallel, levels, output ([]string, omitted when empty),
//	output_mode, stages: [PlanStage...] in topological order.
type Plan struct {
	Name        string `json:"name"`
	MaxParallel int    `json:"max_parallel"`
	// Levels is the number of parallel levels: the longest dependency
	// chain.
	Levels     int         `json:"levels"`
	Output     []string    `json:"output,omitempty"`
	OutputMode CombineMode `json:"output_mode"`
	Stages     []PlanStage `json:"stages"`
}

// PlanStage is one stage of a Plan. In JSON: name, level, group, inputs and
// after (omitted when empty), combine, entry, retries, backoff_ms,
// timeout_ms (0 = none).
type PlanStage struct {
	Name string `json:"name"`
	// Level is the stage's parallel level: 0 for stages with no
	// dependencies, else one more than its deepest dependency. Stages of
	// one level can run at the same time.
	Level   int           `json:"level"`
	Group   int           `json:"group"`
	Inputs  []string      `json:"inputs,omitempty"`
	After   []string      `json:"after,omitempty"`
	Combine CombineMode   `json:"combine"`
	Entry   bool          `json:"entry"`
	Retries int           `json:"retries"`
	Backoff time.Duration `json:"-"` // backoff_ms in JSON
	Timeout time.Duration `json:"-"` // timeout_ms in JSON
}

// MarshalJSON writes Backoff and Timeout as backoff_ms and timeout_ms.
func (s PlanStage) MarshalJSON() ([]byte, error) {
	type plain PlanStage
	return json.Marshal(struct {
		plain
		BackoffMS int64 `json:"backoff_ms"`
		TimeoutMS int64 `json:"timeout_ms"`
	}{plain(s), s.Backoff.Milliseconds(), s.Timeout.Milliseconds()})
}

// NewPlan validates g and describes it.
func NewPlan(g *Graph) (*Plan, error) {
	c, err := compile(g)
	if err != nil {
		return nil, err
	}
	p := &Plan{Name: g.Name, MaxParallel: g.MaxParallel, Output: g.Output, OutputMode: g.OutputMode}
	for _, i := range c.order {
		n := g.Nodes[i]
		p.Stages = append(p.Stages, PlanStage{
			Name: n.ID, Level: c.level[i], Group: n.Group,
			Inputs: n.Inputs, After: n.After, Combine: n.Combine, Entry: c.entry[i],
			Retries: n.Retries, Backoff: n.Backoff, Timeout: n.Timeout,
		})
		p.Levels = max(p.Levels, c.level[i]+1)
	}
	return p, nil
}

// WriteText prints the plan as an aligned table, one stage per line.
func (p *Plan) WriteText(w io.Writer) error {
	par := "unlimited"
	if p.MaxParallel > 0 {
		par = fmt.Sprint(p.MaxParallel)
	}
	out := "none"
	if len(p.Output) > 0 {
		out = strings.Join(p.Output, ", ") + " (" + p.OutputMode.String() + ")"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "run %s: %s in %s, max parallel %s, output %s\n",
		p.Name, plural.Of(len(p.Stages), "stage"), plural.Of(p.Levels, "level"), par, out)
	fmt.Fprintln(tw, "LEVEL\tSTAGE\tINPUTS\tAFTER\tRETRIES\tBACKOFF\tTIMEOUT")
	for _, s := range p.Stages {
		in := orDash(s.Inputs)
		if len(s.Inputs) > 1 || s.Combine == InputArray {
			in += " (" + s.Combine.String() + ")"
		}
		if s.Entry {
			in = "run input"
		}
		timeout := "none"
		if s.Timeout > 0 {
			timeout = s.Timeout.String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n",
			s.Level, s.Name, in, orDash(s.After), s.Retries, s.Backoff, timeout)
	}
	return tw.Flush()
}

func orDash(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return strings.Join(ss, ",")
}
