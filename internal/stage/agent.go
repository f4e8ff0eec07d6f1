package stage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/codex/execjson"
	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/wire"
)

// Guest-side locations of an agent stage.
const (
	llmEndpoint      = "127.0.0.1:4000" // in-guest LLM endpoint, tunnelled to the host gateway
	agentConfigPath  = "/run/voidbox/agent/config.json"
	guestSkillsDir   = "/workspace/.voidbox/skills"
	placeholderKey   = "voidbox-placeholder-key" // the guest never sees a real key
	maxSkillTreeSize = 16 << 20

	claudeDefaultMemoryMiB = 1536
	codexDefaultMemoryMiB  = 1024
)

// AgentDetail is what an agent stage's report carries.
type AgentDetail struct {
	Runtime    string `json:"runtime"`
	Model      string `json:"model,omitempty"`
	Turns      int    `json:"turns"`
	OutputFile string `json:"output_file,omitempty"`
	// ToolCalls lists the agent's tool calls in order (at most
	// maxToolCallsReported; ToolCallCount has the full count).
	ToolCalls     []ToolCallInfo `json:"tool_calls"`
	ToolCallCount int            `json:"tool_call_count"`
	Denied        int            `json:"denied"`
	Requests      int64          `json:"llm_requests"`
	InputTokens   int64          `json:"input_tokens"`  // as counted by the host gateway
	OutputTokens  int64          `json:"output_tokens"` // as counted by the host gateway
	CostUSD       float64        `json:"cost_usd"`
	Unpriced      int64          `json:"unpriced_requests,omitempty"`
	FinalText     string         `json:"final_text,omitempty"`
	// RemoteSkills are the remote: skills installed, with the SKILL.md's
	// URL and content hash.
	RemoteSkills []SkillSource `json:"remote_skills,omitempty"`
	// BudgetRefused counts requests the box's llm.limits refused (429).
	BudgetRefused int64 `json:"budget_refused_requests,omitempty"`
}

// ToolCallInfo is one tool call of an agent stage.
type ToolCallInfo struct {
	Turn       int    `json:"turn"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	Error      string `json:"error,omitempty"`
	Denied     bool   `json:"denied,omitempty"`
}

// maxToolCallsReported bounds the tool calls kept in a stage's report.
const maxToolCallsReported = 500

// agentRun is one attempt of an agent stage on the host side.
type agentRun struct {
	st       Staged
	agent    *Agent
	emit     func(event.Data)
	gw       *llm.Gateway
	provider llm.Kind
	stop     func() // shuts the gateway's HTTP server down
	detail   *AgentDetail
	term     *Terminal // interactive agents: the user's terminal
}

// runAgent runs an agent stage; ready is set for a service.
func (r *Runner) runAgent(ctx context.Context, st Staged, attempt int, input []byte, emit func(event.Data), tap *attachTap, ready func(pipeline.Output)) (pipeline.Output, error) {
	a := st.Box.Agent
	prov, err := a.Provider()
	if err != nil {
		return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("%w: %w", sandbox.ErrInvalid, err))
	}
	if prov.Kind == llm.KindClaudePersonal {
		src, err := r.claudeLogin()
		if err != nil {
			return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("%w: %w", sandbox.ErrInvalid, err))
		}
		prov.Token = src
	}
	if prov, err = codexLogin(a, prov, r.codexLogin); err != nil {
		return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("%w: %w", sandbox.ErrInvalid, err))
	}
	ar := &agentRun{st: st, agent: a, emit: emit, provider: prov.Kind, detail: &AgentDetail{Runtime: a.runtime(), Model: prov.Model}, term: r.terminal}
	budget := r.budget(st.Box)
	ar.gw, err = llm.NewGateway(prov, llm.Options{OnRequest: ar.onRequest, Budget: budget})
	if err != nil {
		// A missing key or a bad endpoint will not fix itself on retry.
		return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("llm gateway: %w", err))
	}
	defer ar.gw.Close()
	handler, stop := httpService(ar.gw)
	var stopOnce sync.Once
	ar.stop = func() { stopOnce.Do(stop) }
	defer ar.stop()

	rt, err := runtimeFor(a.runtime(), r.host.CacheDir, prov.Kind)
	if err != nil {
		return pipeline.Output{}, pipeline.Permanent(err)
	}
	initramfs := r.host.Initramfs
	if a.runtime() == RuntimeVoidbox {
		initramfs = r.host.AgentInitramfs
	}
	cfg, outs, err := r.config(st.Box, initramfs)
	if err != nil {
		return pipeline.Output{}, err
	}
	cfg.Listeners = []wire.Listener{{Service: "llm", Addr: llmEndpoint}}
	cfg.Services = map[string]control.TunnelHandler{"llm": handler}
	cfg.Shares = rt.shares()
	if a.runtime() == RuntimeClaudeCode && st.Box.Policy.MemoryMiB == 0 {
		// Its 400 MB binary is paged in over 9p and its worker peaks near
		// 200 MB: the 512 MiB default is too tight.
		cfg.Policy.MemoryMiB = claudeDefaultMemoryMiB
	}
	if a.runtime() == RuntimeCodex && st.Box.Policy.MemoryMiB == 0 {
		// Its 315 MB static binary is paged in over 9p as well.
		cfg.Policy.MemoryMiB = codexDefaultMemoryMiB
	}
	sb, d, release, err := r.bootVM(ctx, cfg, attempt, emit, tap)
	if err != nil {
		return pipeline.Output{}, err
	}
	defer release()
	d.Agent = ar.detail
	d.Outputs = outs

	out, err := ar.run(ctx, sb, rt, attempt, input, d, r.readyHook(st.Box, sb, ready))
	release() // the VM's network counters are final once it is gone
	ar.stop() // totals are final once the server is down
	u := ar.gw.Usage()
	ar.detail.Requests, ar.detail.InputTokens, ar.detail.OutputTokens = u.Requests, u.InputTokens, u.OutputTokens
	ar.detail.CostUSD, ar.detail.Unpriced = u.CostUSD, u.Unpriced
	out.Detail = d
	if budget != nil {
		if reason, refused := budget.Exhausted(); refused > 0 {
			// Whatever the agent made of its 429s, the box ran out; a
			// retry would share the spent budget.
			ar.detail.BudgetRefused = refused
			return out, pipeline.Permanent(fmt.Errorf("model budget exhausted: %s (%d request(s) refused)", reason, refused))
		}
	}
	return out, err
}

func (ar *agentRun) run(ctx context.Context, sb *sandbox.Sandbox, rt agentRuntime, attempt int, input []byte, d *Detail, ready func(pipeline.Output)) (pipeline.Output, error) {
	a, box := ar.agent, ar.st.Box
	if err := rt.prepare(ctx, sb); err != nil {
		return pipeline.Output{}, err
	}
	fromImages, err := imageSkills(ctx, sb, box.Images)
	if err != nil {
		return pipeline.Output{}, pipeline.Permanent(err)
	}
	skills, err := ar.installSkills(ctx, sb, rt, fromImages)
	if err != nil {
		return pipeline.Output{}, err
	}
	for _, s := range a.Skills {
		if s.Kind != SkillCLI {
			continue
		}
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", `command -v "$1"`, "sh", s.Name}, As: sandbox.AsSystem})
		if err != nil {
			return pipeline.Output{}, err
		}
		if res.ExitCode != 0 {
			return pipeline.Output{}, pipeline.Permanent(fmt.Errorf("cli skill %q: %s is not on the guest PATH", s.Name, s.Name))
		}
	}
	if input != nil {
		if err := sb.WriteFile(ctx, InputFile, input, 0o644); err != nil {
			return pipeline.Output{}, fmt.Errorf("writing %s: %w", InputFile, err)
		}
	}
	if a.Interactive {
		return ar.session(ctx, sb, rt, ar.agentConfig(skills), stageEnv(box.Name, attempt), d)
	}
	argv, env, stdin, err := rt.command(ctx, sb, ar.agentConfig(skills))
	if err != nil {
		return pipeline.Output{}, err
	}
	for k, v := range stageEnv(box.Name, attempt) {
		env[k] = v
	}
	stderr := &tailWriter{}
	parser := rt.parser(ar.apply)
	maxLine := event.MaxLine
	if a.runtime() == RuntimeCodex {
		// A command's whole output is on its item.completed line; dropping
		// the line would lose the tool call's end.
		maxLine = execjson.MaxLine
	}
	lines := &lineSplitter{max: maxLine, line: parser.Line}
	cmd := sandbox.Cmd{Args: argv, Env: env, Stdout: lines, Stderr: stderr, As: sandbox.AsSystem}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	res, err := execute(ctx, sb, cmd, box, ready, d)
	lines.flush()
	parser.Close()
	if err != nil {
		return pipeline.Output{}, err
	}
	emitDenials(res, ar.emit)
	d.ExecMS = ms(res.Duration)
	out := pipeline.Output{ExitCode: new(res.ExitCode)}
	if res.ExitCode != 0 {
		out.StderrTail = stderr.lines()
		msg := exitMessage(res, stderr.last())
		if res.OOMKilled {
			msg = res.Reason() + ": " + msg
		}
		return out, fmt.Errorf("agent failed: %s", msg)
	}
	d.OutputFrom = "file"
	if _, ok, err := sb.Stat(ctx, box.Output()); err != nil {
		return out, err
	} else if !ok {
		out.Data, d.OutputFrom = []byte(ar.detail.FinalText), "final_text"
		return out, nil
	}
	ar.detail.OutputFile = box.Output()
	out.Data, err = sb.ReadFile(ctx, box.Output())
	return out, err
}

// exitMessage says how an agent that failed ended: the signal that killed
// it (a SIGKILL leaves no stderr line to tell it), its last stderr line,
// or its exit code.
func exitMessage(res *sandbox.Result, last string) string {
	var msg string
	if res.Signal > 0 {
		msg = fmt.Sprintf("killed by signal %d (%v)", res.Signal, syscall.Signal(res.Signal))
	}
	switch {
	case last != "" && msg != "":
		return msg + ": " + last
	case last != "":
		return last
	case msg != "":
		return msg
	}
	return fmt.Sprintf("exit code %d", res.ExitCode)
}

// agentConfig is the built-in agent's configuration (claude-code maps it to flags).
func (ar *agentRun) agentConfig(skills []agentconfig.Skill) agentconfig.Config {
	a, box := ar.agent, ar.st.Box
	prov, _ := a.Provider()
	kind := agentconfig.ProviderAnthropic
	if prov.Kind == llm.KindOpenAI || prov.Kind == llm.KindOllama || prov.Kind == llm.KindLMStudio {
		kind = agentconfig.ProviderOpenAI
	}
	c := agentconfig.Config{
		Provider:        kind,
		BaseURL:         "http://" + llmEndpoint,
		Model:           prov.Model,
		Prompt:          a.Prompt,
		OutputFile:      box.Output(),
		Skills:          skills,
		MaxTurns:        a.MaxTurns,
		AllowedCommands: box.Policy.AllowedCommands,
	}
	for _, im := range box.Images {
		c.TrustedDirs = append(c.TrustedDirs, path.Join(im.Mount, "bin"))
	}
	for _, s := range a.Skills {
		if s.Kind == SkillMCP {
			c.MCPServers = append(c.MCPServers, agentconfig.MCPServer{Name: s.Name, Command: s.MCP.Command, Args: s.MCP.Args, Env: s.MCP.Env, URL: s.MCP.URL})
		}
	}
	return c
}

// installSkills writes the file and inline skills (with a file skill's
// scripts/ and references/) under the runtime's skills directory in the
// guest. Skills already in the guest (OCI skills' SKILL.md, extra) stay
// where they are for runtimes that read skills from any path, and are
// copied for those that look in their own directory only.
func (ar *agentRun) installSkills(ctx context.Context, sb *sandbox.Sandbox, rt agentRuntime, extra []Skill) ([]agentconfig.Skill, error) {
	dir := rt.skillsDir()
	var out []agentconfig.Skill
	seen := map[string]bool{}
	for _, s := range append(slices.Clip(ar.agent.Skills), extra...) {
		if s.Kind != SkillFile && s.Kind != SkillInline && s.Kind != SkillRemote {
			continue
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: two skills are named %q", sandbox.ErrInvalid, s.Name)
		}
		seen[s.Name] = true
		if s.Kind == SkillRemote {
			if s.Source == nil {
				return nil, pipeline.Permanent(fmt.Errorf("remote skill %s was not fetched", s.Remote))
			}
			ar.emit(event.SkillFetched{Name: s.Name, URL: s.Source.URL, SHA256: s.Source.SHA256, Cached: s.Source.Cached})
			ar.detail.RemoteSkills = append(ar.detail.RemoteSkills, *s.Source)
		}
		if s.GuestPath != "" && rt.skillsAnywhere() {
			out = append(out, agentconfig.Skill{Name: s.Name, Description: s.Description, Path: s.GuestPath})
			continue
		}
		base := path.Join(dir, s.Name)
		if err := sb.WriteFile(ctx, path.Join(base, "SKILL.md"), []byte(s.Content), 0o644); err != nil {
			return nil, fmt.Errorf("installing skill %q: %w", s.Name, err)
		}
		if s.HostPath != "" {
			if err := copySkillDirs(ctx, sb, filepath.Dir(s.HostPath), base); err != nil {
				return nil, fmt.Errorf("installing skill %q: %w", s.Name, err)
			}
		}
		out = append(out, agentconfig.Skill{Name: s.Name, Description: s.Description, Path: path.Join(base, "SKILL.md")})
	}
	return out, nil
}

// copySkillDirs copies a skill's scripts/ and references/ (regular files
// only, bounded in total) into the guest.
func copySkillDirs(ctx context.Context, sb *sandbox.Sandbox, hostDir, guestDir string) error {
	var total int64
	for _, sub := range []string{"scripts", "references"} {
		root := filepath.Join(hostDir, sub)
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			continue
		}
		err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
			if err != nil || !de.Type().IsRegular() {
				return err
			}
			fi, err := de.Info()
			if err != nil {
				return err
			}
			if total += fi.Size(); total > maxSkillTreeSize {
				return fmt.Errorf("%s: skill directories exceed %d MiB", hostDir, maxSkillTreeSize>>20)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(hostDir, p)
			return sb.WriteFile(ctx, path.Join(guestDir, filepath.ToSlash(rel)), data, fi.Mode().Perm()|0o400)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// apply folds one agent event (from the guest: untrusted, decoded into
// fixed types) into the stage's detail and forwards it to the run's stream.
// Only agent events are accepted from an agent runtime.
func (ar *agentRun) apply(ev event.Data) {
	d := ar.detail
	switch e := ev.(type) {
	case event.AgentStarted:
		if e.Model != "" {
			d.Model = e.Model
		}
	case event.AgentTurn:
		d.Turns = max(d.Turns, e.Turn)
	case event.AgentToolCall:
		d.ToolCallCount++
		if len(d.ToolCalls) < maxToolCallsReported {
			d.ToolCalls = append(d.ToolCalls, ToolCallInfo{Turn: e.Turn, Name: e.Name, DurationMS: e.DurationMS,
				ExitCode: e.ExitCode, Error: e.Error, Denied: e.Denied})
		}
	case event.AgentDenied:
		d.Denied++
	case event.AgentFinished:
		d.FinalText = e.FinalText
		d.Turns = max(d.Turns, e.Turns)
		d.ToolCallCount = max(d.ToolCallCount, e.ToolCalls)
		// The run's stream carries the counts; the text is in the report.
		ev = event.AgentFinished{Turns: e.Turns, ToolCalls: e.ToolCalls, Error: e.Error}
	default:
		return // not an agent event: a guest may not forge engine or gateway events
	}
	ar.emit(ev)
}

// onRequest reports each model request the gateway forwarded: counts and
// timings, never prompts or keys.
func (ar *agentRun) onRequest(e llm.RequestEvent) {
	ar.emit(event.LLMRequest{Provider: string(ar.provider), Method: e.Method, Path: e.Path, Status: e.Status, Model: e.Model,
		DurationMS: e.Duration.Milliseconds(), Streamed: e.Streamed, InputTokens: e.InputTokens,
		OutputTokens: e.OutputTokens, CostUSD: e.CostUSD, Error: e.Error})
}

// lineSplitter cuts a byte stream into lines, dropping lines longer than max.
type lineSplitter struct {
	max  int
	line func([]byte)
	buf  []byte
	skip bool // inside an over-long line
}

func (s *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !s.skip {
				s.buf = append(s.buf, p...)
				if len(s.buf) > s.max {
					s.buf, s.skip = s.buf[:0], true
				}
			}
			break
		}
		if !s.skip && len(s.buf)+i <= s.max {
			s.line(append(s.buf, p[:i]...))
		}
		s.buf, s.skip = s.buf[:0], false
		p = p[i+1:]
	}
	return n, nil
}

func (s *lineSplitter) flush() {
	if len(s.buf) > 0 && !s.skip {
		s.line(s.buf)
	}
	s.buf = nil
}
