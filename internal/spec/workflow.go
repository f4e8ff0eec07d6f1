package spec

import "time"

// Workflow is a kind: workflow spec: commands ordered by their dependencies.
type Workflow struct {
	// Steps in declaration order; names are unique and the dependency graph
	// is acyclic.
	Steps []*Step
	// OutputStep is the step whose stdout is the workflow's output: the one
	// named by output_step, else the last step declared.
	OutputStep *Step
	// MaxParallel caps how many steps run at once; zero means no cap.
	MaxParallel int
	Pos         Pos
}

// Step returns the step named name, or nil.
func (w *Workflow) Step(name string) *Step {
	for _, s := range w.Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Step is one command of a workflow.
type Step struct {
	Name string
	// Program and Args form the argv, run without a shell.
	Program string
	Args    []string
	// StdinFrom is the step whose stdout feeds this step's stdin, or nil for
	// an empty stdin. It is also a dependency.
	StdinFrom *Step
	// DependsOn are the steps that must succeed first, as written (StdinFrom
	// is not repeated here; see Needs).
	DependsOn []*Step
	// Timeout bounds one attempt; zero means none was given.
	Timeout      time.Duration
	Retries      int
	RetryBackoff time.Duration
	// Service is mode: service: ready (its dependants start) when OutputFile
	// appears in the guest, stopped when the run's other steps are done;
	// Timeout bounds the time to become ready.
	Service bool
	// ServicePorts are a service's TCP ports: ready once each answers (or
	// OutputFile appears), reached by its dependants as NAME:PORT.
	ServicePorts []uint16
	// OutputFile is the guest file a service writes when it is ready (its
	// content is the step's output); DefaultOutputFile unless given.
	OutputFile string
	// Sandbox is the effective sandbox policy for the step.
	Sandbox Sandbox
	Pos     Pos

	path string // document path, for problems found after decoding
}

// Needs returns every step s waits for: DependsOn plus StdinFrom.
func (s *Step) Needs() []*Step {
	out := append([]*Step(nil), s.DependsOn...)
	if s.StdinFrom != nil && !containsStep(out, s.StdinFrom) {
		out = append(out, s.StdinFrom)
	}
	return out
}

func containsStep(list []*Step, s *Step) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stepRefs are a step's references by name, resolved once all steps are
// known.
type stepRefs struct {
	step      *Step
	dependsOn []nameRef
	stdinFrom *nameRef
}

type nameRef struct {
	name string
	node *yamlNode
	path string
}

// workflow decodes a workflow block.
func (d *decoder) workflow(n *yamlNode, path string, base Sandbox) *Workflow {
	f := d.mapping(n, path, &workflowObject)
	if f == nil {
		return nil
	}
	w := &Workflow{Pos: d.pos(f.node)}
	f.require("steps")
	var refs []stepRefs
	if sn, spath, ok := f.get("steps"); ok {
		if items, ok := d.seq(sn, spath); ok {
			if len(items) == 0 {
				d.at(sn, spath, "a workflow needs at least one step")
			}
			refs = d.steps(w, items, spath, base)
		}
	}
	if v, ok := f.integer("max_parallel", 1, maxInt); ok {
		w.MaxParallel = v
	}
	d.linkSteps(w, refs)
	if len(w.Steps) > 0 {
		w.OutputStep = w.Steps[len(w.Steps)-1]
	}
	if on, opath, ok := f.get("output_step"); ok {
		if name, ok := d.str(on, opath); ok {
			w.OutputStep = d.stepRef(w, nameRef{name: name, node: on, path: opath})
		}
	}
	d.checkCycles(w)
	return w
}

// steps decodes the step list into w.Steps, returning their references.
func (d *decoder) steps(w *Workflow, items []*yamlNode, path string, base Sandbox) []stepRefs {
	var refs []stepRefs
	first := map[string]*Step{}
	for i, c := range items {
		if c == nil {
			continue
		}
		r, ok := d.step(c, index(path, i), base)
		if !ok {
			continue
		}
		s := r.step
		if prev, dup := first[s.Name]; dup {
			d.atPos(s.Pos, join(s.path, "name"), "duplicate step name %q (first at line %d)", s.Name, prev.Pos.Line)
			continue
		}
		first[s.Name] = s
		w.Steps = append(w.Steps, s)
		refs = append(refs, r)
	}
	return refs
}

// step decodes one step; references stay names until linkSteps.
func (d *decoder) step(n *yamlNode, path string, base Sandbox) (stepRefs, bool) {
	f := d.mapping(n, path, &stepObject)
	if f == nil {
		return stepRefs{}, false
	}
	s := &Step{Pos: d.pos(f.node), path: path, Sandbox: base.clone(), RetryBackoff: DefaultRetryBackoff, OutputFile: DefaultOutputFile}
	r := stepRefs{step: s}
	f.require("name", "run")
	name, ok := f.str("name")
	if ok {
		if err := checkStageName(name); err != nil {
			d.at(f.m["name"].val, join(path, "name"), "%v", err)
		}
		s.Name = name
	}
	if sn, spath, has := f.get("sandbox"); has {
		s.Sandbox = d.sandboxOverride(sn, spath, base)
	}
	if rn, rpath, has := f.get("run"); has {
		r.stdinFrom = d.run(rn, rpath, s)
	}
	if dn, dpath, has := f.get("depends_on"); has {
		if items, good := d.seq(dn, dpath); good {
			for i, c := range items {
				if c == nil {
					continue
				}
				p := index(dpath, i)
				if v, good := d.str(c, p); good {
					r.dependsOn = append(r.dependsOn, nameRef{name: v, node: c, path: p})
				}
			}
		}
	}
	if v, good := d.timeout(f); good {
		s.Timeout = v
	}
	d.retries(f, &s.Retries, &s.RetryBackoff)
	s.Service = d.mode(f)
	s.ServicePorts = d.servicePorts(f, s.Name, s.Service)
	if v, good := f.str("output_file"); good {
		if err := checkGuestPath(v); err != nil {
			d.at(f.m["output_file"].val, join(path, "output_file"), "%v", err)
		}
		s.OutputFile = v
		if !s.Service {
			// A task step's output is its stdout (what stdin_from pipes).
			d.at(f.key("output_file"), join(path, "output_file"), "only applies to mode: service (a step's output is its stdout)")
		}
	}
	return r, ok
}

// run decodes a step's run block into s; it returns the stdin_from
// reference, if any.
func (d *decoder) run(n *yamlNode, path string, s *Step) *nameRef {
	f := d.mapping(n, path, &runObject)
	if f == nil {
		return nil
	}
	f.require("program")
	if v, ok := f.str("program"); ok {
		d.checkProgram(f.m["program"].val, join(path, "program"), v, s.Sandbox)
		s.Program = v
	}
	if args, ok := f.strList("args", d.word); ok {
		s.Args = args
	}
	if on, opath, ok := f.get("stdin_from"); ok {
		if v, ok := d.str(on, opath); ok {
			return &nameRef{name: v, node: on, path: opath}
		}
	}
	return nil
}

// linkSteps resolves depends_on and stdin_from names to steps.
func (d *decoder) linkSteps(w *Workflow, refs []stepRefs) {
	for _, r := range refs {
		seen := map[*Step]bool{}
		for _, ref := range r.dependsOn {
			dep := d.stepRef(w, ref)
			switch {
			case dep == nil:
			case seen[dep]:
				d.at(ref.node, ref.path, "duplicate dependency %q", ref.name)
			default:
				seen[dep] = true
				r.step.DependsOn = append(r.step.DependsOn, dep)
			}
		}
		if r.stdinFrom != nil {
			r.step.StdinFrom = d.stepRef(w, *r.stdinFrom)
		}
	}
}

// stepRef resolves a step name, reporting unknown ones.
func (d *decoder) stepRef(w *Workflow, ref nameRef) *Step {
	if s := w.Step(ref.name); s != nil {
		return s
	}
	d.at(ref.node, ref.path, "unknown step %q (defined: %s)", ref.name, definedNames(w.Steps, func(s *Step) string { return s.Name }))
	return nil
}
