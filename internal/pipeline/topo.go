package pipeline

import (
	"slices"
	"strings"
)

// findCycles walks the dependency edges depth-first in declaration order and
// returns one problem per back edge, naming the cycle it closes.
func (c *compiled) findCycles() []error {
	const (
		white = iota // not visited
		grey         // on the current path
		black        // finished
	)
	colour := make([]int, len(c.g.Nodes))
	var (
		path []int
		errs []error
		seen = map[string]bool{}
	)
	var visit func(u int)
	visit = func(u int) {
		colour[u] = grey
		path = append(path, u)
		for _, v := range c.deps[u] {
			switch colour[v] {
			case white:
				visit(v)
			case grey:
				start := slices.Index(path, v)
				name := c.cycleName(path[start:])
				if !seen[name] {
					seen[name] = true
					errs = append(errs, invalidf("cycle: %s", name))
				}
			}
		}
		path = path[:len(path)-1]
		colour[u] = black
	}
	for i := range c.g.Nodes {
		if colour[i] == white {
			visit(i)
		}
	}
	return errs
}

// cycleName renders a cycle given as a dependency path (each element depends
// on the next, the last on the first) in flow order, "a -> b -> a", starting
// from its earliest-declared stage so the message is stable.
func (c *compiled) cycleName(dependsPath []int) string {
	flow := slices.Clone(dependsPath)
	slices.Reverse(flow)
	first := slices.Index(flow, slices.Min(flow))
	flow = append(flow[first:], flow[:first]...)
	names := make([]string, 0, len(flow)+1)
	for _, i := range flow {
		names = append(names, c.g.Nodes[i].ID)
	}
	names = append(names, names[0])
	return strings.Join(names, " -> ")
}

// sortTopological fills order and level. Precondition: the graph is acyclic.
// Among ready nodes the earliest declared goes first, so the order is stable.
func (c *compiled) sortTopological() {
	n := len(c.g.Nodes)
	waiting := make([]int, n)
	var ready []int
	for i := range n {
		waiting[i] = len(c.deps[i])
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	c.order = make([]int, 0, n)
	c.level = make([]int, n)
	for len(ready) > 0 {
		k := slices.Index(ready, slices.Min(ready))
		u := ready[k]
		ready = slices.Delete(ready, k, k+1)
		c.order = append(c.order, u)
		for _, d := range c.deps[u] {
			c.level[u] = max(c.level[u], c.level[d]+1)
		}
		for _, v := range c.dependents[u] {
			waiting[v]--
			if waiting[v] == 0 {
				ready = append(ready, v)
			}
		}
	}
}
