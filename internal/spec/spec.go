package spec

// Kind is what a spec runs.
type Kind string

const (
	// KindAgent runs one box (the agent block).
	KindAgent Kind = "agent"
	// KindPipeline runs boxes in stages, one VM per box.
	KindPipeline Kind = "pipeline"
	// KindWorkflow runs commands ordered by depends_on.
	KindWorkflow Kind = "workflow"
	// KindSandbox describes a sandbox (and llm) to use interactively.
	KindSandbox Kind = "sandbox"
)

// APIVersion is the only api_version this package reads, and the default.
const APIVersion = "v1"

// Spec is a parsed, validated spec. Exactly one of Agent, Pipeline and
// Workflow is set, according to Kind (none for KindSandbox).
type Spec struct {
	APIVersion string
	Kind       Kind
	Name       string
	// Sandbox is the top-level sandbox block with defaults applied. Boxes
	// and steps carry their own effective copy.
	Sandbox Sandbox
	// LLM is the top-level llm block with defaults applied. Boxes carry
	// their own effective copy.
	LLM LLM
	// Agent is the box of a KindAgent spec; its Name is the spec's name.
	Agent    *Box
	Pipeline *Pipeline
	Workflow *Workflow
	// Observe is the observe block; nil when the spec has none.
	Observe *Observe
	// File is the name the spec was parsed under; Dir is the absolute
	// directory its relative paths were resolved against.
	File string
	Dir  string
	// Notices are fields voidbox accepts with another meaning than the seed
	// implementation's (sandbox.mode: mock, llm.credential_proxy: true), each
	// at its position: show them to the user.
	Notices []*Error
}

// Boxes returns the boxes the spec runs, in declaration order: the agent of
// a KindAgent spec or a pipeline's boxes; nil for other kinds.
func (s *Spec) Boxes() []*Box {
	switch {
	case s.Agent != nil:
		return []*Box{s.Agent}
	case s.Pipeline != nil:
		return s.Pipeline.Boxes
	}
	return nil
}

// Stages returns the stages the spec runs: a KindAgent spec is a single
// one-box stage; nil for workflows and sandboxes.
func (s *Spec) Stages() []Stage {
	switch {
	case s.Agent != nil:
		return []Stage{{Kind: StageBox, Boxes: []*Box{s.Agent}, Pos: s.Agent.Pos}}
	case s.Pipeline != nil:
		return s.Pipeline.Stages
	}
	return nil
}

// spec decodes the document. Every block present is decoded, even when the
// kind is wrong or missing, so that all problems are reported at once.
func (d *decoder) spec(root *yamlNode) *Spec {
	s := &Spec{APIVersion: APIVersion, File: d.file, Dir: d.dir}
	f := d.mapping(root, "", &specObject)
	if f == nil {
		return s
	}
	if v, ok := f.str("api_version"); ok && v != APIVersion {
		d.at(f.m["api_version"].val, "api_version", "unsupported api_version %q (valid: %s)", v, APIVersion)
	}
	f.require("kind", "name")
	if v, ok := f.str("kind"); ok {
		switch k := Kind(v); k {
		case KindAgent, KindPipeline, KindWorkflow, KindSandbox:
			s.Kind = k
		default:
			d.at(f.m["kind"].val, "kind", "unknown kind %q (valid: agent, pipeline, workflow, sandbox)", v)
		}
	}
	if v, ok := f.str("name"); ok {
		if err := checkSpecName(v); err != nil {
			d.at(f.m["name"].val, "name", "%v", err)
		}
		s.Name = v
	}
	s.Sandbox = defaultSandbox()
	if n, path, ok := f.get("sandbox"); ok {
		s.Sandbox = d.sandbox(n, path)
	}
	var llm *llmDecl
	if n, path, ok := f.get("llm"); ok {
		llm = d.llmDecl(n, path)
	}
	s.LLM = d.llm(llm, true)

	if n, path, ok := f.get("agent"); ok {
		s.Agent = d.agent(n, path, s.Name, s.Sandbox, llm)
	}
	if n, path, ok := f.get("pipeline"); ok {
		s.Pipeline = d.pipeline(n, path, s.Sandbox, llm)
	}
	if n, path, ok := f.get("workflow"); ok {
		s.Workflow = d.workflow(n, path, s.Sandbox)
	}
	if n, path, ok := f.get("observe"); ok {
		s.Observe = d.observe(n, path)
	}
	d.checkBlocks(f, s.Kind)
	return s
}

// checkBlocks reports blocks that do not belong to the kind, and the
// missing block a kind needs.
func (d *decoder) checkBlocks(f *fields, kind Kind) {
	if kind == "" {
		return // already reported
	}
	for _, block := range []Kind{KindAgent, KindPipeline, KindWorkflow} {
		switch has := f.has(string(block)); {
		case has && block != kind:
			d.at(f.key(string(block)), string(block), "not allowed in a spec of kind %s", kind)
		case !has && block == kind:
			d.at(f.node, "", "missing required field %q for kind %s", block, kind)
		}
	}
}

// agent decodes the agent block of a kind: agent spec.
func (d *decoder) agent(n *yamlNode, path, name string, base Sandbox, llm *llmDecl) *Box {
	f := d.mapping(n, path, &agentObject)
	if f == nil {
		return nil
	}
	b := &Box{Name: name, Sandbox: base.clone(), LLM: d.llm(llm, false)}
	d.agentMode(f, b) // first: an interactive agent needs no prompt
	d.boxFields(f, b)
	d.checkInteractive(f, b)
	b.ServicePorts = d.servicePorts(f, name, b.Service)
	return b
}
