// Package runspec turns a parsed spec into the public API's runnable
// pipeline or workflow, so specs and Go programs share one engine.
package runspec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/spec"
)

// Job is a runnable spec.
type Job interface {
	Plan() (*voidbox.Plan, error)
	Run(ctx context.Context, o voidbox.RunOptions) (*voidbox.Report, error)
}

// Lookup reads a host environment variable (os.LookupEnv in production).
type Lookup func(string) (string, bool)

// Build converts s. Host environment values the spec asks to copy
// (`KEY: ""`) are read through lookup.
func Build(s *spec.Spec, lookup Lookup) (Job, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	switch s.Kind {
	case spec.KindAgent:
		b, err := box(s.Agent, lookup)
		if err != nil {
			return nil, err
		}
		return voidbox.NewPipeline(s.Name).Pipe(b), nil
	case spec.KindPipeline:
		return pipeline(s, lookup)
	case spec.KindWorkflow:
		return workflow(s, lookup)
	case spec.KindSandbox:
		return nil, fmt.Errorf("%s: kind sandbox describes a VM, not a run: use `voidbox exec` with its settings", s.File)
	}
	return nil, fmt.Errorf("%s: unknown kind %q", s.File, s.Kind)
}

func pipeline(s *spec.Spec, lookup Lookup) (Job, error) {
	boxes := map[string]*voidbox.Box{}
	var errs []error
	for _, sb := range s.Pipeline.Boxes {
		b, err := box(sb, lookup)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		boxes[sb.Name] = b
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := voidbox.NewPipeline(s.Name).MaxParallel(s.Pipeline.MaxParallel)
	for _, st := range s.Pipeline.Stages {
		group := make([]*voidbox.Box, len(st.Boxes))
		for i, sb := range st.Boxes {
			group[i] = boxes[sb.Name]
		}
		if st.Kind == spec.StageBox {
			p.Pipe(group[0])
		} else {
			p.FanOut(group...) // a leading fan-out gives every branch the run's input
		}
	}
	return p, nil
}

func workflow(s *spec.Spec, lookup Lookup) (Job, error) {
	w := voidbox.NewWorkflow(s.Name).MaxParallel(s.Workflow.MaxParallel)
	var errs []error
	for _, st := range s.Workflow.Steps {
		env, err := st.Sandbox.Env.Resolve(lookup)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: step %q: %w", st.Pos, st.Name, err))
			continue
		}
		b := boxPolicy(voidbox.NewBox(st.Name), st.Sandbox, env).
			Exec(append([]string{st.Program}, st.Args...)...).
			Timeout(st.Timeout).
			Retries(st.Retries, st.RetryBackoff)
		if st.Service {
			b.Service().OutputFile(st.OutputFile).ServicePorts(st.ServicePorts...)
		}
		var deps []string
		for _, d := range st.DependsOn {
			deps = append(deps, d.Name)
		}
		from := ""
		if st.StdinFrom != nil {
			from = st.StdinFrom.Name
		}
		w.StepFrom(b, from, deps...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.Workflow.OutputStep != nil {
		w.Output(s.Workflow.OutputStep.Name)
	}
	return w, nil
}

func box(sb *spec.Box, lookup Lookup) (*voidbox.Box, error) {
	env, err := sb.Sandbox.Env.Resolve(lookup)
	if err != nil {
		return nil, fmt.Errorf("%s: box %q: %w", sb.Pos, sb.Name, err)
	}
	b := boxPolicy(voidbox.NewBox(sb.Name), sb.Sandbox, env).
		Timeout(sb.Timeout).
		Retries(sb.Retries, sb.RetryBackoff).
		OutputFile(sb.OutputFile)
	for _, s := range sb.Skills {
		if s.Kind == spec.SkillOCI {
			b.Skill(voidbox.SkillOCI(s.Image, s.Mount))
		}
	}
	for _, o := range sb.Outputs {
		b.Output(o.Name, o.Guest)
	}
	for _, in := range sb.Inputs {
		b.Input(in.From, in.Guest)
	}
	if sb.Service {
		b.Service().ServicePorts(sb.ServicePorts...)
	}
	if sb.Interactive {
		b.Interactive()
	}
	if len(sb.Exec) > 0 {
		return b.Exec(sb.Exec...), nil
	}
	return agentBox(b, sb, lookup)
}

// agentBox configures an agent stage: its LLM, runtime and skills.
func agentBox(b *voidbox.Box, sb *spec.Box, lookup Lookup) (*voidbox.Box, error) {
	b.Prompt(sb.Prompt).
		LLM(voidbox.LLM{Provider: string(sb.LLM.Provider), Model: sb.LLM.Model, BaseURL: sb.LLM.BaseURL, APIKeyEnv: sb.LLM.APIKeyEnv,
			Limits: voidbox.LLMLimits{MaxRequests: sb.LLM.Limits.MaxRequests, MaxInputTokens: sb.LLM.Limits.MaxInputTokens,
				MaxOutputTokens: sb.LLM.Limits.MaxOutputTokens, MaxCostUSD: sb.LLM.Limits.MaxCostUSD}}).
		MaxTurns(sb.MaxTurns).
		Runtime(string(sb.Runtime))
	var errs []error
	for _, s := range sb.Skills {
		switch s.Kind {
		case spec.SkillFile:
			sk, err := voidbox.SkillFile(s.Path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.Pos, err))
				continue
			}
			b.Skill(sk)
		case spec.SkillInline:
			b.Skill(voidbox.SkillInline(s.Name, s.Description, s.Content))
		case spec.SkillCLI:
			b.Skill(voidbox.SkillCLI(s.Name))
		case spec.SkillRemote:
			sk, err := voidbox.SkillRemote(s.Name)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.Pos, err))
				continue
			}
			b.Skill(sk)
		case spec.SkillMCP:
			env, err := s.MCP.Env.Resolve(lookup)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: mcp skill %q: %w", s.Pos, s.Name, err))
				continue
			}
			srv := voidbox.MCPServer{Command: s.MCP.Command, Args: s.MCP.Args, URL: s.MCP.URL}
			if len(env) > 0 {
				srv.Env = map[string]string{}
				for _, kv := range env {
					k, v, _ := strings.Cut(kv, "=")
					srv.Env[k] = v
				}
			}
			b.Skill(voidbox.SkillMCP(s.Name, srv))
		case spec.SkillAgent:
			// Box.Runtime already reflects it.
		case spec.SkillOCI:
			// Added with the box: any box may have OCI skills.
		}
	}
	return b, errors.Join(errs...)
}

// boxPolicy is a spec sandbox as the box's policy, with the environment
// resolved on the host.
func boxPolicy(b *voidbox.Box, s spec.Sandbox, env []string) *voidbox.Box {
	p := s.Policy.Clone() // nil (none) and [] (nothing) allowlists stay apart
	if len(env) > 0 {
		p.Env = map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			p.Env[k] = v
		}
	}
	b.Sandbox(p)
	if s.Kernel != "" {
		b.Image(voidbox.Image{Kernel: s.Kernel, Initramfs: s.Initramfs})
	}
	return b
}
