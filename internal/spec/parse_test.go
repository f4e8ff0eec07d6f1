package spec

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/policy"
)

func mustParseFile(t *testing.T, path string) *Spec {
	t.Helper()
	s, err := ParseFile(path)
	if err != nil {
		t.Fatalf("ParseFile(%s):\n%v", path, err)
	}
	return s
}

func TestSeedAgent(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/seed_agent.yaml")
	if s.Kind != KindAgent || s.Name != "hn_researcher" || s.APIVersion != "v1" {
		t.Errorf("header = %q %q %q", s.Kind, s.Name, s.APIVersion)
	}
	b := s.Agent
	if b == nil || b.Name != "hn_researcher" || b.Prompt == "" || b.IsCommand() {
		t.Fatalf("agent box = %+v", b)
	}
	if b.Timeout != 600*time.Second || b.OutputFile != DefaultOutputFile || b.MaxTurns != DefaultMaxTurns ||
		b.Retries != 0 || b.RetryBackoff != DefaultRetryBackoff {
		t.Errorf("agent settings = timeout %v, output %q, turns %d, retries %d/%v",
			b.Timeout, b.OutputFile, b.MaxTurns, b.Retries, b.RetryBackoff)
	}
	if b.Runtime != RuntimeClaudeCode {
		t.Errorf("runtime = %q, want claude-code from the agent: skill", b.Runtime)
	}
	if b.Sandbox.Policy.MemoryMiB != 1024 || b.Sandbox.Policy.VCPUs != 1 || b.Sandbox.Mode != SandboxAuto {
		t.Errorf("sandbox = %+v", b.Sandbox)
	}
	if b.LLM.Provider != ProviderOllama || b.LLM.Model != "qwen3-coder" {
		t.Errorf("llm = %+v", b.LLM)
	}
	if want := (Pos{File: "testdata/valid/seed_agent.yaml", Line: 13, Col: 3}); b.Pos != want {
		t.Errorf("agent pos = %v, want %v", b.Pos, want)
	}
	if got := s.Boxes(); len(got) != 1 || got[0] != b {
		t.Errorf("Boxes() = %v", got)
	}
	if st := s.Stages(); len(st) != 1 || st[0].Kind != StageBox || st[0].Boxes[0] != b {
		t.Errorf("Stages() = %+v", st)
	}
}

func TestSeedPipeline(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/seed_pipeline.yaml")
	p := s.Pipeline
	if s.Kind != KindPipeline || p == nil || len(p.Boxes) != 4 {
		t.Fatalf("spec = %+v", s)
	}
	names := func(bs []*Box) string {
		var out []string
		for _, b := range bs {
			out = append(out, b.Name)
		}
		return strings.Join(out, ",")
	}
	var stages []string
	for _, st := range p.Stages {
		stages = append(stages, string(st.Kind)+":"+names(st.Boxes))
	}
	if got := strings.Join(stages, " "); got != "box:fetch fan_out:security,style box:summarize" {
		t.Errorf("stages = %s", got)
	}
	if p.MaxParallel != 0 {
		t.Errorf("max_parallel = %d, want 0 (no cap)", p.MaxParallel)
	}
	fetch, security, style := p.Box("fetch"), p.Box("security"), p.Box("style")
	if fetch.Timeout != 300*time.Second || security.Timeout != 0 {
		t.Errorf("timeouts = %v, %v", fetch.Timeout, security.Timeout)
	}
	// llm: a box's fields merge over the top-level block; naming another
	// provider starts afresh.
	if l := fetch.LLM; l.Provider != ProviderClaude || l.Model != "claude-sonnet-4-5" {
		t.Errorf("fetch llm = %+v", l)
	}
	if l := security.LLM; l.Provider != ProviderClaude || l.Model != "claude-opus-4-1" || l.Pos != (Pos{File: "testdata/valid/seed_pipeline.yaml", Line: 30, Col: 9}) {
		t.Errorf("security llm = %+v", l)
	}
	if l := style.LLM; l.Provider != ProviderOllama || l.Model != "qwen3-coder" || l.BaseURL != "http://127.0.0.1:11434" {
		t.Errorf("style llm = %+v", l)
	}
	// sandbox: overrides merge over the top-level block, env included.
	if sb := style.Sandbox; sb.Policy.MemoryMiB != 1024 || sb.Policy.VCPUs != 2 || sb.Mode != SandboxLocal ||
		!sb.Env["GITHUB_TOKEN"].FromHost || sb.Env["LOG_LEVEL"].Value != "info" {
		t.Errorf("style sandbox = %+v", sb)
	}
	if fetch.Sandbox.Policy.MemoryMiB != 2048 {
		t.Errorf("fetch memory = %d", fetch.Sandbox.Policy.MemoryMiB)
	}
	if got := s.Sandbox.Env.Names(); !slices.Equal(got, []string{"GITHUB_TOKEN", "LOG_LEVEL"}) {
		t.Errorf("env names = %v", got)
	}
	if want := (Pos{File: "testdata/valid/seed_pipeline.yaml", Line: 18, Col: 7}); fetch.Pos != want {
		t.Errorf("fetch pos = %v, want %v", fetch.Pos, want)
	}
	if st := p.Stages[1]; st.Pos.Line != 47 || st.Pos.Col != 7 {
		t.Errorf("fan-out stage pos = %v", st.Pos)
	}
}

func TestCommandsPipeline(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/commands.yaml")
	p := s.Pipeline
	if p.MaxParallel != 2 || len(p.Stages) != 2 || p.Stages[0].Kind != StageFanOut || len(p.Stages[0].Boxes) != 2 {
		t.Fatalf("pipeline = %+v", p)
	}
	evens, odds, merge := p.Box("evens"), p.Box("odds"), p.Box("merge")
	// Merge keys: explicit fields win over merged ones.
	if evens.Retries != 2 || evens.RetryBackoff != 250*time.Millisecond || evens.Timeout != time.Minute {
		t.Errorf("evens = retries %d backoff %v timeout %v", evens.Retries, evens.RetryBackoff, evens.Timeout)
	}
	if odds.Retries != 0 || odds.Timeout != time.Minute {
		t.Errorf("odds = retries %d timeout %v", odds.Retries, odds.Timeout)
	}
	if !merge.IsCommand() || merge.Exec[1] != "{ s += $1 } END { print s }" || merge.OutputFile != "/workspace/sum.txt" {
		t.Errorf("merge = %+v", merge)
	}
	if sb := merge.Sandbox; !slices.Equal(sb.Policy.AllowedCommands, []string{"awk"}) || sb.Policy.MemoryMiB != 128 ||
		sb.Env["LC_ALL"].Value != "C" || sb.Policy.Timeout != 30*time.Second {
		t.Errorf("merge sandbox = %+v", sb)
	}
	if !slices.Equal(s.Sandbox.Policy.AllowedCommands, []string{"sh", "awk", "sort"}) {
		t.Errorf("top-level allowlist changed by an override: %v", s.Sandbox.Policy.AllowedCommands)
	}
}

func TestWorkflow(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/workflow.yaml")
	w := s.Workflow
	if w == nil || len(w.Steps) != 4 || w.MaxParallel != 2 || w.OutputStep != w.Step("c") {
		t.Fatalf("workflow = %+v", w)
	}
	a, b, c, d := w.Step("a"), w.Step("b"), w.Step("c"), w.Step("d")
	if a.Program != "echo" || !slices.Equal(a.Args, []string{"hello", "42", "true"}) {
		t.Errorf("a = %q %q", a.Program, a.Args)
	}
	if !slices.Equal(b.DependsOn, []*Step{a}) || b.Timeout != 90*time.Second || b.Retries != 3 || b.RetryBackoff != 0 {
		t.Errorf("b = %+v", b)
	}
	if c.StdinFrom != a || len(c.DependsOn) != 0 || !slices.Equal(c.Needs(), []*Step{a}) || c.Timeout != 10*time.Second {
		t.Errorf("c = %+v", c)
	}
	if c.Sandbox.Policy.MemoryMiB != 128 || c.Sandbox.Env["CI"].Value != "false" || !c.Sandbox.Env["HOME_DIR"].FromHost {
		t.Errorf("c sandbox = %+v", c.Sandbox)
	}
	if a.Sandbox.Env["CI"].Value != "true" || a.RetryBackoff != DefaultRetryBackoff {
		t.Errorf("a = %+v", a)
	}
	if !slices.Equal(d.Needs(), []*Step{b, c}) {
		t.Errorf("d needs %v", d.Needs())
	}
	if s.Boxes() != nil || s.Stages() != nil {
		t.Errorf("a workflow has no boxes or stages")
	}
}

func TestSandboxKind(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/sandbox.yaml")
	sb := s.Sandbox
	kernel, _ := filepath.Abs("testdata/kernel/vmlinux")
	if sb.Kernel != kernel || !filepath.IsAbs(sb.Initramfs) || sb.Policy.VCPUs != 4 || sb.Policy.DiskMiB != 200 || sb.Mode != SandboxLocal {
		t.Errorf("sandbox = %+v", sb)
	}
	if sb.Policy.AllowedCommands == nil || len(sb.Policy.AllowedCommands) != 0 || sb.Allows("sh") {
		t.Errorf("an empty allowlist must allow nothing: %#v", sb.Policy.AllowedCommands)
	}
	if s.LLM.Provider != ProviderClaude || s.LLM.APIKeyEnv != "MY_ANTHROPIC_KEY" {
		t.Errorf("llm = %+v (anthropic is an alias of claude)", s.LLM)
	}
	if s.Agent != nil || s.Pipeline != nil || s.Workflow != nil {
		t.Errorf("kind sandbox has no blocks")
	}
}

func TestJSONSpec(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/agent.json")
	b := s.Agent
	if b.LLM.BaseURL != "https://llm.internal.example/v1" || b.LLM.Model != "mélange 😀" || b.LLM.Provider != ProviderCustom {
		t.Errorf("llm = %+v", b.LLM)
	}
	if b.MaxTurns != 5 || b.Timeout != 2*time.Minute || b.Retries != 1 || b.OutputFile != "/workspace/summary.md" {
		t.Errorf("agent = %+v", b)
	}
	// Tabs count as one column each, as in YAML.
	if want := (Pos{File: "testdata/valid/agent.json", Line: 6, Col: 11}); b.Pos != want {
		t.Errorf("agent pos = %v, want %v", b.Pos, want)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("d.yaml", []byte("kind: agent\nname: a\nagent: {exec: [true]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.APIVersion != APIVersion {
		t.Errorf("api_version default = %q", s.APIVersion)
	}
	want := Sandbox{Mode: SandboxAuto, Policy: policy.Sandbox{MemoryMiB: policy.DefaultMemoryMiB, VCPUs: policy.DefaultVCPUs}}
	if sb := s.Agent.Sandbox; sb.Mode != want.Mode || sb.Policy.MemoryMiB != want.Policy.MemoryMiB || sb.Policy.VCPUs != want.Policy.VCPUs ||
		sb.Env != nil || sb.Policy.AllowedCommands != nil || sb.Policy.Timeout != 0 || !sb.Allows("/any/thing") {
		t.Errorf("default sandbox = %+v", sb)
	}
	if l := s.Agent.LLM; l != (LLM{Provider: DefaultProvider}) {
		t.Errorf("default llm = %+v", l)
	}
	if b := s.Agent; b.Runtime != RuntimeVoidbox || b.Timeout != 0 || !slices.Equal(b.Exec, []string{"true"}) {
		t.Errorf("box = %+v", b)
	}
}

func TestAllows(t *testing.T) {
	sb := Sandbox{Policy: policy.Sandbox{AllowedCommands: []string{"sh", "awk"}}}
	for cmd, want := range map[string]bool{
		"sh": true, "/bin/sh": true, "/usr/bin/awk": true, "awk": true, "/usr/local/sbin/awk": true, "bash": false,
		"/tmp/sh": false, "/workspace/awk": false, "./sh": false, "/bin/bash": false,
	} {
		if got := sb.Allows(cmd); got != want {
			t.Errorf("Allows(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestEnvResolve(t *testing.T) {
	env := Env{"A": {Value: "1"}, "TOKEN": {FromHost: true}, "HOME": {FromHost: true}}
	host := map[string]string{"TOKEN": "secret", "HOME": ""}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	got, err := env.Resolve(lookup)
	if err != nil || !slices.Equal(got, []string{"A=1", "HOME=", "TOKEN=secret"}) {
		t.Errorf("Resolve = %q, %v", got, err)
	}
	delete(host, "TOKEN")
	delete(host, "HOME")
	if _, err := env.Resolve(lookup); err == nil || err.Error() != "host environment variable not set: HOME, TOKEN" {
		t.Errorf("Resolve with missing host vars: %v", err)
	}
}

func TestNetwork(t *testing.T) {
	s := mustParseFile(t, "testdata/valid/network.yaml")
	boxes := s.Boxes()
	fetch, public, offline := boxes[0].Sandbox.Policy, boxes[1].Sandbox.Policy, boxes[2].Sandbox.Policy
	n := fetch.Network
	if n.Mode != netpolicy.ModeAllowlist || len(n.Allow) != 6 || len(n.Deny) != 1 {
		t.Fatalf("network = %+v", n)
	}
	var rules []string
	for _, r := range n.Allow {
		rules = append(rules, r.String())
	}
	if got := strings.Join(rules, " "); got != "api.github.com *.pythonhosted.org pypi.org:443 registry.example.com:5000-5001 203.0.113.0/24 [2001:db8::/32]:443" {
		t.Errorf("allow = %s", got)
	}
	if n.Hosts["registry.example.com"] != netip.MustParseAddr("127.0.0.1") || !slices.Equal(n.HostPorts, []uint16{11434}) ||
		n.Limits != (netpolicy.Limits{ConnsPerSecond: 20, MaxFlows: 32, MaxBytes: 100 << 20}) {
		t.Errorf("network = %+v", n)
	}
	if got := fmt.Sprint(fetch.Ports); got != "[127.0.0.1:8080:80 0.0.0.0:9000:9000 127.0.0.1:0:22]" {
		t.Errorf("ports = %s", got)
	}
	if !strings.HasPrefix(string(fetch.CACerts), "-----BEGIN CERTIFICATE-----") || policy.CheckCACerts(fetch.CACerts) != nil {
		t.Errorf("ca = %q", fetch.CACerts)
	}
	if public.Network.Mode != netpolicy.ModePublic || len(public.Ports) != 0 || offline.HasNetwork() {
		t.Errorf("overrides: public %+v, offline %+v", public.Network, offline.Network)
	}
	if err := fetch.Validate(); err != nil {
		t.Errorf("parsed policy does not validate: %v", err)
	}
	// The seed's network: true is the public internet.
	if seed := mustParseFile(t, "testdata/valid/seed_agent.yaml"); seed.Agent.Sandbox.Policy.Network.Mode != netpolicy.ModePublic {
		t.Errorf("seed network = %+v", seed.Agent.Sandbox.Policy.Network)
	}
}

func TestObserve(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want *Observe
	}{
		{"kind: sandbox\nname: a\n", nil},
		{"kind: sandbox\nname: a\nobserve: {}\n", &Observe{Traces: true, Metrics: true, Logs: true}},
		{"kind: sandbox\nname: a\nobserve:\n  metrics: false\n  otlp_endpoint: http://127.0.0.1:4318\n  service_name: ci\n",
			&Observe{Traces: true, Logs: true, Endpoint: "http://127.0.0.1:4318", ServiceName: "ci"}},
	} {
		s, err := Parse("t.yaml", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		if s.Observe != nil {
			s.Observe.Pos = Pos{}
		}
		if !reflect.DeepEqual(s.Observe, tt.want) {
			t.Errorf("%q: Observe = %+v, want %+v", tt.src, s.Observe, tt.want)
		}
	}
}

func TestParseNoHost(t *testing.T) {
	src := "kind: pipeline\nname: p\nsandbox:\n  kernel: /boot/vmlinuz\n  env: {HOME: \"\", A: b}\n  mounts: [{host: /etc, guest: /data}]\npipeline:\n  boxes:\n    - name: a\n      prompt: hi\n      skills: [\"file:/etc/passwd\"]\n" +
		"    - name: b\n      exec: [echo]\n      sandbox: {network: {host_ports: [11434]}, ports: [\"8080:80\"], ca_certificates: [/etc/ssl/certs/ca-certificates.crt]}\n"
	_, err := ParseWith("t.yaml", []byte(src), ParseOptions{NoHost: true})
	want := []string{
		"t.yaml:4:11: sandbox.kernel: /boot/vmlinuz: a spec sent to a daemon cannot name files on its host",
		`t.yaml:5:15: sandbox.env.HOME: a spec sent to a daemon cannot copy the daemon's environment: give the value`,
		"t.yaml:6:19: sandbox.mounts[0].host: /etc: a spec sent to a daemon cannot name files on its host",
		"t.yaml:11:16: pipeline.boxes[0].skills[0]: skill file /etc/passwd: a spec sent to a daemon cannot name files on its host; inline the skill as {name, content}",
		"t.yaml:14:39: pipeline.boxes[1].sandbox.network.host_ports: a spec sent to a daemon cannot reach or open ports of its host",
		"t.yaml:14:56: pipeline.boxes[1].sandbox.ports: a spec sent to a daemon cannot reach or open ports of its host",
		"t.yaml:14:87: pipeline.boxes[1].sandbox.ca_certificates[0]: /etc/ssl/certs/ca-certificates.crt: a spec sent to a daemon cannot name files on its host",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// attach_shell is off unless asked, per box, and a box's narrower
// allowlist under an inherited attach_shell is an error at that box.
func TestAttachShell(t *testing.T) {
	src := `kind: pipeline
name: p
sandbox:
  attach_shell: true
pipeline:
  boxes:
    - name: a
      exec: [echo, a]
    - name: b
      exec: [echo, b]
      sandbox:
        attach_shell: false
`
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.Pipeline.Boxes[0].Sandbox.Policy.AttachShell, s.Pipeline.Boxes[1].Sandbox.Policy.AttachShell; !a || b {
		t.Errorf("attach_shell a=%v b=%v, want true false", a, b)
	}
	s, err = Parse("t.yaml", []byte("kind: pipeline\nname: p\npipeline:\n  boxes:\n    - name: a\n      exec: [echo, a]\n"))
	if err != nil || s.Pipeline.Boxes[0].Sandbox.Policy.AttachShell {
		t.Errorf("default attach_shell: %v %v", err, s != nil && s.Pipeline.Boxes[0].Sandbox.Policy.AttachShell)
	}
	wantErrors(t, "t.yaml", `kind: pipeline
name: p
sandbox:
  attach_shell: true
pipeline:
  boxes:
    - name: a
      exec: [echo, a]
      sandbox:
        allowed_commands: [echo]
`, `t.yaml:10:27: pipeline.boxes[0].sandbox.allowed_commands: the attach shell is sh, which allowed_commands does not allow: add it or leave attach_shell off`)
}

// TestLLMLimits: llm.limits parse, and a box's limits merge over the
// top-level ones field by field, also when the box names another provider.
func TestLLMLimits(t *testing.T) {
	src := `kind: pipeline
name: p
llm:
  limits: {max_requests: 10, max_cost_usd: 2}
pipeline:
  boxes:
    - name: a
      prompt: x
    - name: b
      prompt: y
      llm:
        provider: openai
        limits: {max_requests: 2, max_output_tokens: 500}
  stages: [{box: a}, {box: b}]
`
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pipeline.Box("a").LLM.Limits; got != (LLMLimits{MaxRequests: 10, MaxCostUSD: 2}) {
		t.Errorf("a: %+v", got)
	}
	if got := s.Pipeline.Box("b").LLM.Limits; got != (LLMLimits{MaxRequests: 2, MaxOutputTokens: 500, MaxCostUSD: 2}) {
		t.Errorf("b: %+v", got)
	}
}
