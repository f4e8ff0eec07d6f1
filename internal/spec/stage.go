package spec

// StageKind is the shape of a pipeline stage.
type StageKind string

const (
	// StageBox runs one box; it receives the previous stage's output.
	StageBox StageKind = "box"
	// StageFanOut runs its boxes in parallel, each receiving the previous
	// stage's output; the next stage receives a JSON array of their outputs.
	// A fan-out may be the first stage: its boxes then all receive the
	// pipeline's input.
	StageFanOut StageKind = "fan_out"
)

// Stage is one step of a pipeline.
type Stage struct {
	Kind StageKind
	// Boxes run in this stage: exactly one for StageBox, one or more in
	// declaration order for StageFanOut.
	Boxes []*Box
	Pos   Pos
}

// stages decodes the stages list. Each stage is written either in the
// seed's form, {type: box, name: X} / {type: fan_out, boxes: [X, Y]}, or in
// the shorthand {box: X} / {fan_out: [X, Y]}. Every box must be used exactly
// once: a box listed twice would run twice under one name, and a box never
// listed is almost always a mistake.
func (d *decoder) stages(n *yamlNode, path string, boxes []*Box) []Stage {
	items, ok := d.seq(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.at(n, path, "empty stages: omit the list to run the boxes in order")
		return nil
	}
	r := &stageRefs{d: d, boxes: boxes, used: map[string]*yamlNode{}}
	var out []Stage
	for i, c := range items {
		if c == nil {
			continue
		}
		if st, ok := r.stage(c, index(path, i)); ok {
			out = append(out, st)
		}
	}
	if len(out) != len(items) {
		return out // a broken stage may have meant the boxes that look unused
	}
	for _, b := range boxes {
		if _, used := r.used[b.Name]; !used && b.Name != "" {
			d.atPos(b.Pos, b.path, "box %q is not used by any stage", b.Name)
		}
	}
	return out
}

// stageRefs resolves box names in stages and tracks which are used.
type stageRefs struct {
	d     *decoder
	boxes []*Box
	used  map[string]*yamlNode // box name → where it is first used
}

func (r *stageRefs) stage(n *yamlNode, path string) (Stage, bool) {
	d := r.d
	f := d.anyMapping(n, path)
	if f == nil {
		return Stage{}, false
	}
	st := Stage{Pos: d.pos(f.node)}
	if f.has("type") {
		f.restrict(&stageTypedObject)
		typ, ok := f.str("type")
		if !ok {
			return st, false
		}
		switch StageKind(typ) {
		case StageBox:
			st.Kind = StageBox
			r.forbid(f, "boxes", `a stage of type box names one box with "name"`)
			if f.require("name") {
				st.Boxes = r.one(f, "name")
			}
		case StageFanOut:
			st.Kind = StageFanOut
			r.forbid(f, "name", `a stage of type fan_out lists its boxes with "boxes"`)
			if f.require("boxes") {
				st.Boxes = r.list(f, "boxes")
			}
		default:
			d.at(f.m["type"].val, join(path, "type"), "unknown stage type %q (valid: box, fan_out)", typ)
			return st, false
		}
	} else {
		f.restrict(&stageShortObject)
		switch {
		case f.has("box") && f.has("fan_out"):
			d.at(f.key("fan_out"), join(path, "fan_out"), "a stage is either box or fan_out, not both")
			return st, false
		case f.has("box"):
			st.Kind, st.Boxes = StageBox, r.one(f, "box")
		case f.has("fan_out"):
			st.Kind, st.Boxes = StageFanOut, r.list(f, "fan_out")
		default:
			d.at(n, path, "want {box: NAME}, {fan_out: [NAMES]}, {type: box, name: NAME} or {type: fan_out, boxes: [NAMES]}")
			return st, false
		}
	}
	return st, len(st.Boxes) > 0
}

func (r *stageRefs) forbid(f *fields, key, why string) {
	if f.has(key) {
		r.d.at(f.key(key), join(f.path, key), "%s", why)
	}
}

// one resolves the single box name in key.
func (r *stageRefs) one(f *fields, key string) []*Box {
	n, path, ok := f.get(key)
	if !ok {
		return nil
	}
	if b := r.ref(n, path); b != nil {
		return []*Box{b}
	}
	return nil
}

// list resolves the non-empty list of box names in key.
func (r *stageRefs) list(f *fields, key string) []*Box {
	n, path, ok := f.get(key)
	if !ok {
		return nil
	}
	items, ok := r.d.seq(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		r.d.at(n, path, "empty fan-out: list at least one box")
		return nil
	}
	var out []*Box
	for i, c := range items {
		if c == nil {
			continue
		}
		if b := r.ref(c, index(path, i)); b != nil {
			out = append(out, b)
		}
	}
	if len(out) != len(items) {
		return nil
	}
	return out
}

// ref resolves one box name, reporting unknown and reused names.
func (r *stageRefs) ref(n *yamlNode, path string) *Box {
	name, ok := r.d.str(n, path)
	if !ok {
		return nil
	}
	var box *Box
	for _, b := range r.boxes {
		if b.Name == name {
			box = b
		}
	}
	if box == nil {
		r.d.at(n, path, "unknown box %q (defined: %s)", name, definedNames(r.boxes, func(b *Box) string { return b.Name }))
		return nil
	}
	if first, dup := r.used[name]; dup {
		r.d.at(n, path, "box %q is already used by a stage (line %d)", name, first.Line)
		return nil
	}
	r.used[name] = n
	return box
}
