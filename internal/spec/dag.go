package spec

import "strings"

// checkCycles reports each dependency cycle among the steps once, naming
// every step on it: "dependency cycle: a -> b -> c -> a". Both depends_on
// and stdin_from are edges.
func (d *decoder) checkCycles(w *Workflow) {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[*Step]int, len(w.Steps))
	var stack []*Step
	var visit func(s *Step)
	visit = func(s *Step) {
		state[s] = onStack
		stack = append(stack, s)
		for _, dep := range s.Needs() {
			switch state[dep] {
			case unvisited:
				visit(dep)
			case onStack:
				d.reportCycle(stack, dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[s] = done
	}
	for _, s := range w.Steps {
		if state[s] == unvisited {
			visit(s)
		}
	}
}

// reportCycle reports the cycle that closes at dep: the part of the stack
// from dep to the top, in dependency order, at dep's step.
func (d *decoder) reportCycle(stack []*Step, dep *Step) {
	start := len(stack) - 1
	for stack[start] != dep {
		start--
	}
	names := make([]string, 0, len(stack)-start+1)
	for _, s := range stack[start:] {
		names = append(names, s.Name)
	}
	names = append(names, dep.Name)
	d.atPos(dep.Pos, dep.path, "dependency cycle: %s", strings.Join(names, " -> "))
}
