package spec

import (
	"slices"
	"strings"
)

// Pipeline is a kind: pipeline spec's graph: boxes run in Stages order; the
// boxes of a fan-out stage run in parallel, each in its own VM.
type Pipeline struct {
	// Boxes in declaration order; names are unique.
	Boxes []*Box
	// Stages in run order. Every box appears in exactly one stage. Without a
	// stages list, each box is its own stage, in declaration order.
	Stages []Stage
	// MaxParallel caps how many boxes of a fan-out run at once; zero means
	// no cap (all branches at once).
	MaxParallel int
	Pos         Pos
}

// Box returns the box named name, or nil.
func (p *Pipeline) Box(name string) *Box {
	for _, b := range p.Boxes {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// pipeline decodes a pipeline block. base and llm are the top-level sandbox
// and llm block that boxes inherit.
func (d *decoder) pipeline(n *yamlNode, path string, base Sandbox, llm *llmDecl) *Pipeline {
	f := d.mapping(n, path, &pipelineObject)
	if f == nil {
		return nil
	}
	p := &Pipeline{Pos: d.pos(f.node)}
	f.require("boxes")
	if bn, bpath, ok := f.get("boxes"); ok {
		p.Boxes = d.boxes(bn, bpath, base, llm)
	}
	if v, ok := f.integer("max_parallel", 1, maxInt); ok {
		p.MaxParallel = v
	}
	if sn, spath, ok := f.get("stages"); ok {
		p.Stages = d.stages(sn, spath, p.Boxes)
	} else {
		for _, b := range p.Boxes {
			p.Stages = append(p.Stages, Stage{Kind: StageBox, Boxes: []*Box{b}, Pos: b.Pos})
		}
	}
	stageOf := map[string]int{}
	for i, st := range p.Stages {
		for _, b := range st.Boxes {
			stageOf[b.Name] = i
		}
	}
	d.checkBoxIO(p.Boxes, stageOf)
	return p
}

// boxes decodes the box list; names must be unique.
func (d *decoder) boxes(n *yamlNode, path string, base Sandbox, llm *llmDecl) []*Box {
	items, ok := d.seq(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.at(n, path, "a pipeline needs at least one box")
	}
	var out []*Box
	first := map[string]*Box{}
	for i, c := range items {
		if c == nil {
			continue
		}
		p := index(path, i)
		b := d.box(c, p, base, llm)
		if b == nil {
			continue
		}
		if prev, dup := first[b.Name]; dup {
			d.atPos(b.Pos, join(p, "name"), "duplicate box name %q (first at line %d)", b.Name, prev.Pos.Line)
			continue
		}
		if b.Name != "" {
			first[b.Name] = b
		}
		out = append(out, b)
	}
	return out
}

// box decodes one pipeline box.
func (d *decoder) box(n *yamlNode, path string, base Sandbox, llm *llmDecl) *Box {
	f := d.mapping(n, path, &boxObject)
	if f == nil {
		return nil
	}
	b := &Box{Sandbox: base.clone()}
	f.require("name")
	if v, ok := f.str("name"); ok {
		if err := checkStageName(v); err != nil {
			d.at(f.m["name"].val, join(path, "name"), "%v", err)
		}
		b.Name = v
	}
	if sn, spath, ok := f.get("sandbox"); ok {
		b.Sandbox = d.sandboxOverride(sn, spath, base)
	}
	merged := llm
	var own *llmDecl
	if ln, lpath, ok := f.get("llm"); ok {
		own = d.llmDecl(ln, lpath)
		merged = llm.over(own)
	}
	b.LLM = d.llm(merged, own != nil && own.provider != nil)
	d.boxFields(f, b)
	b.Outputs = d.outputs(f)
	b.Inputs = d.inputs(f)
	d.boxSnapshotIO(f, b)
	b.Service = d.mode(f)
	b.ServicePorts = d.servicePorts(f, b.Name, b.Service)
	return b
}

// definedNames lists names for "unknown X" messages.
func definedNames[T any](items []T, name func(T) string) string {
	names := make([]string, 0, len(items))
	for _, it := range items {
		names = append(names, name(it))
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
