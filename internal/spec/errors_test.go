package spec

import (
	"errors"
	"strings"
	"testing"
)

// wantErrors parses src as name and checks the exact error lines.
func wantErrors(t *testing.T, name, src string, want ...string) {
	t.Helper()
	s, err := Parse(name, []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded (kind %q), want errors:\n%s", s.Kind, strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not match ErrInvalid: %v", err)
	}
	if s != nil {
		t.Errorf("Parse returned a spec along with errors")
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func TestErrorsDocument(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"empty", "", []string{"t.yaml: empty spec: want a mapping with api_version, kind and name"}},
		{"blank", " \n\t\n", []string{"t.yaml: empty spec: want a mapping with api_version, kind and name"}},
		{"comments only", "# nothing here\n", []string{"t.yaml: empty spec: want a mapping with api_version, kind and name"}},
		{"not a mapping", "- kind: agent\n", []string{"t.yaml:1:1: want a mapping, got a list"}},
		{"scalar", "agent\n", []string{"t.yaml:1:1: want a mapping, got a string"}},
		{"syntax", "kind: agent\nname: [a, b\n", []string{"t.yaml:2: invalid YAML: did not find expected ',' or ']'"}},
		{"two documents", "kind: sandbox\nname: a\n---\nkind: sandbox\n", []string{"t.yaml:3:1: more than one YAML document: a spec is a single document"}},
		{"duplicate field", "kind: sandbox\nname: a\nkind: agent\n", []string{`t.yaml:3:1: kind: duplicate field (first at line 1)`}},
		{"missing kind and name", "api_version: v1\n", []string{
			`t.yaml:1:1: missing required field "kind"`,
			`t.yaml:1:1: missing required field "name"`,
		}},
		{"api version", "api_version: v2\nkind: sandbox\nname: a\n", []string{`t.yaml:1:14: api_version: unsupported api_version "v2" (valid: v1)`}},
		{"api version type", "api_version: 1\nkind: sandbox\nname: a\n", []string{`t.yaml:1:14: api_version: want a string, got an integer`}},
		{"unknown kind", "kind: job\nname: a\n", []string{`t.yaml:1:7: kind: unknown kind "job" (valid: agent, pipeline, workflow, sandbox)`}},
		{"misspelt field", "kind: sandbox\nnmae: a\n", []string{
			`t.yaml:1:1: missing required field "name"`,
			`t.yaml:2:1: nmae: unknown field "nmae" (did you mean "name"?)`,
		}},
		{"unknown field", "kind: sandbox\nname: a\nfoo: 1\n", []string{
			`t.yaml:3:1: foo: unknown field "foo" (known: api_version, kind, name, sandbox, llm, agent, pipeline, workflow)`,
		}},
		{"bad name", "kind: sandbox\nname: my box\n", []string{
			`t.yaml:2:7: name: invalid name "my box": want letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128)`,
		}},
		{"observe", "kind: sandbox\nname: a\nobserve:\n  traces: true\n", []string{`t.yaml:3:1: observe: telemetry export is not available yet`}},
		{"block for another kind", "kind: sandbox\nname: a\nagent:\n  prompt: hi\n", []string{`t.yaml:3:1: agent: not allowed in a spec of kind sandbox`}},
		{"missing block", "kind: agent\nname: a\n", []string{`t.yaml:1:1: missing required field "agent" for kind agent`}},
		{"wrong blocks", "kind: workflow\nname: a\npipeline:\n  boxes: [{name: a, exec: [true]}]\n", []string{
			`t.yaml:1:1: missing required field "workflow" for kind workflow`,
			`t.yaml:3:1: pipeline: not allowed in a spec of kind workflow`,
		}},
		{"extension fields", "kind: sandbox\nname: a\nx-anchors: {a: 1}\nsandbox:\n  x-note: no\n", []string{
			`t.yaml:5:3: sandbox.x-note: unknown field "x-note" (known: mode, kernel, initramfs, memory_mb, vcpus, network, env, allowed_commands, timeout, disk_mb)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "t.yaml", tt.src, tt.want...) })
	}
}

func TestErrorsSandbox(t *testing.T) {
	const head = "kind: sandbox\nname: a\nsandbox:\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"mock", "  mode: mock\n", []string{`t.yaml:4:9: sandbox.mode: mock mode is not supported: voidbox always boots a VM`}},
		{"mode", "  mode: remote\n", []string{`t.yaml:4:9: sandbox.mode: unknown mode "remote" (valid: auto, local)`}},
		{"memory type", "  memory_mb: lots\n", []string{`t.yaml:4:14: sandbox.memory_mb: want an integer, got a string`}},
		{"memory low", "  memory_mb: 32\n", []string{`t.yaml:4:14: sandbox.memory_mb: 32 MiB is outside 128..1048576 MiB`}},
		{"memory float", "  memory_mb: 512.5\n", []string{`t.yaml:4:14: sandbox.memory_mb: want an integer, got a number`}},
		{"vcpus", "  vcpus: 65\n", []string{`t.yaml:4:10: sandbox.vcpus: 65 is outside 1..64`}},
		{"vcpus zero", "  vcpus: 0\n", []string{`t.yaml:4:10: sandbox.vcpus: 0 is outside 1..64`}},
		{"huge int", "  vcpus: 99999999999999999999999\n", []string{`t.yaml:4:10: sandbox.vcpus: want an integer, got a number`}},
		{"network", "  network: true\n", []string{`t.yaml:4:12: sandbox.network: networking is not available yet`}},
		{"network type", "  network: yes\n", []string{`t.yaml:4:12: sandbox.network: want true or false, got a string`}},
		{"mounts", "  mounts:\n    - {host: ., guest: /data}\n", []string{`t.yaml:4:3: sandbox.mounts: host mounts are not available yet`}},
		{"snapshot", "  snapshot: abc123\n", []string{`t.yaml:4:3: sandbox.snapshot: snapshots are not available yet`}},
		{"kernel missing", "  kernel: no/such/vmlinux\n", []string{`t.yaml:4:11: sandbox.kernel: no/such/vmlinux: no such file or directory`}},
		{"kernel dir", "  initramfs: testdata\n", []string{`t.yaml:4:14: sandbox.initramfs: testdata: not a regular file`}},
		{"timeout", "  timeout: 30\n", []string{`t.yaml:4:12: sandbox.timeout: want a string, got an integer`}},
		{"timeout unit", "  timeout: 30 seconds\n", []string{`t.yaml:4:12: sandbox.timeout: invalid duration "30 seconds": want a number with a unit, like "30s" or "5m"`}},
		{"timeout negative", "  timeout: -1s\n", []string{`t.yaml:4:12: sandbox.timeout: invalid duration "-1s": want a number with a unit, like "30s" or "5m"`}},
		{"env name", "  env:\n    1BAD: x\n", []string{`t.yaml:5:5: sandbox.env.1BAD: invalid environment variable name "1BAD"`}},
		{"env null", "  env:\n    TOKEN:\n", []string{`t.yaml:5:11: sandbox.env.TOKEN: want a string, got null (write "" to copy the variable from the host environment)`}},
		{"env list", "  env: [A=1]\n", []string{`t.yaml:4:8: sandbox.env: want a mapping, got a list`}},
		{"env nested", "  env:\n    A: {b: 1}\n", []string{`t.yaml:5:8: sandbox.env.A: want a string, got a mapping`}},
		{"allowed type", "  allowed_commands: sh\n", []string{`t.yaml:4:21: sandbox.allowed_commands: want a list, got a string`}},
		{"allowed entries", "  allowed_commands: [sh, \"rm -rf\", bin/sh, sh, ..]\n", []string{
			`t.yaml:4:26: sandbox.allowed_commands[1]: "rm -rf" is not a command name: want a program name such as sh, without "/" or spaces`,
			`t.yaml:4:36: sandbox.allowed_commands[2]: "bin/sh" is not a command name: want a program name such as sh, without "/" or spaces`,
			`t.yaml:4:44: sandbox.allowed_commands[3]: duplicate command "sh"`,
			`t.yaml:4:48: sandbox.allowed_commands[4]: ".." is not a command name: want a program name such as sh, without "/" or spaces`,
		}},
		// It passed the parser, then failed the run with "invalid: invalid:"
		// and no position.
		{"allowed path", "  allowed_commands: [/bin/echo]\n", []string{
			`t.yaml:4:22: sandbox.allowed_commands[0]: "/bin/echo" is not a command name: list the name (echo), not a path: the guest finds it in the system directories`,
		}},
		// Parsed and then ignored by the runner: refused until they mean something.
		{"image", "  image: docker.io/library/debian:12\n", []string{
			`t.yaml:4:3: sandbox.image: OCI images are not available yet: the guest boots voidbox's own image (kernel and initramfs set it)`,
		}},
		{"guest image", "  guest_image: \"\"\n", []string{
			`t.yaml:4:3: sandbox.guest_image: OCI images are not available yet: the guest boots voidbox's own image (kernel and initramfs set it)`,
		}},
		{"disk type", "  disk_mb: 1G\n", []string{`t.yaml:4:12: sandbox.disk_mb: want an integer, got a string`}},
		{"disk low", "  disk_mb: 8\n", []string{`t.yaml:4:12: sandbox.disk_mb: 8 MiB is below the 16 MiB minimum`}},
		{"disk over memory", "  memory_mb: 256\n  disk_mb: 200\n", []string{
			`t.yaml:5:12: sandbox.disk_mb: 200 MiB is more than half of the 256 MiB of memory, which holds the disk too`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "t.yaml", head+tt.src, tt.want...) })
	}
}

func TestErrorsLLM(t *testing.T) {
	const head = "kind: sandbox\nname: a\nllm:\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown provider", "  provider: lm-studio\n", []string{`t.yaml:4:13: llm.provider: unknown provider "lm-studio" (valid: claude, anthropic, openai, ollama, custom)`}},
		{"codex", "  provider: codex\n", []string{`t.yaml:4:13: llm.provider: provider "codex" is not supported (valid: claude, anthropic, openai, ollama, custom)`}},
		{"claude-personal", "  provider: claude-personal\n", []string{`t.yaml:4:13: llm.provider: provider "claude-personal" is not supported (valid: claude, anthropic, openai, ollama, custom)`}},
		{"custom without url", "  provider: custom\n", []string{`t.yaml:4:3: llm: provider custom (an Anthropic-compatible endpoint) needs base_url`}},
		{"bad url", "  base_url: ftp://host/x\n", []string{`t.yaml:4:13: llm.base_url: invalid URL "ftp://host/x": want http:// or https:// and a host`}},
		{"url credentials", "  base_url: https://me:secret@host/\n", []string{`t.yaml:4:13: llm.base_url: URL "https://me:xxxxx@host/" carries credentials: keep secrets out of specs`}},
		{"key env", "  api_key_env: my-key\n", []string{`t.yaml:4:16: llm.api_key_env: invalid environment variable name "my-key"`}},
		{"credential proxy", "  credential_proxy: true\n", []string{`t.yaml:4:3: llm.credential_proxy: not needed: the voidbox LLM gateway always keeps provider keys out of the guest, so there is nothing to proxy`}},
		{"negative limit", "  limits: {max_requests: -1}\n", []string{`t.yaml:4:26: llm.limits.max_requests: -1 is out of range [0, 9007199254740992]`}},
		{"cost as text", "  limits: {max_cost_usd: five}\n", []string{`t.yaml:4:26: llm.limits.max_cost_usd: want a number, got a string`}},
		{"negative cost", "  limits: {max_cost_usd: -0.5}\n", []string{`t.yaml:4:26: llm.limits.max_cost_usd: -0.5 is out of range [0, 1.7976931348623157e+308]`}},
		{"unknown limit", "  limits: {max_streams: 3}\n", []string{`t.yaml:4:12: llm.limits.max_streams: unknown field "max_streams" (known: max_requests, max_input_tokens, max_output_tokens, max_cost_usd)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "t.yaml", head+tt.src, tt.want...) })
	}
}

func TestErrorsAgent(t *testing.T) {
	const head = "kind: agent\nname: a\nagent:\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"neither", "  timeout: 1m\n", []string{`t.yaml:4:3: agent: missing required field "prompt" (or "exec" for a command)`}},
		{"both", "  prompt: hi\n  exec: [ls]\n", []string{`t.yaml:5:3: agent.exec: prompt and exec are mutually exclusive`}},
		{"empty prompt", "  prompt: \"  \"\n", []string{`t.yaml:4:11: agent.prompt: empty prompt`}},
		{"empty exec", "  exec: []\n", []string{`t.yaml:4:9: agent.exec: empty command: want [program, args...]`}},
		{"exec element", "  exec: [ls, {a: 1}]\n", []string{`t.yaml:4:14: agent.exec[1]: want a string, got a mapping`}},
		{"both timeouts", "  prompt: hi\n  timeout_secs: 10\n  timeout: 10s\n", []string{`t.yaml:6:3: agent.timeout: timeout_secs and timeout are mutually exclusive`}},
		{"timeout secs zero", "  prompt: hi\n  timeout_secs: 0\n", []string{`t.yaml:5:17: agent.timeout_secs: 0 is out of range [1, 604800]`}},
		{"output file", "  prompt: hi\n  output_file: out.json\n", []string{`t.yaml:5:16: agent.output_file: invalid guest path "out.json": want an absolute, clean path such as /workspace/output.json`}},
		{"output file dots", "  prompt: hi\n  output_file: /workspace/../etc/passwd\n", []string{`t.yaml:5:16: agent.output_file: invalid guest path "/workspace/../etc/passwd": want an absolute, clean path such as /workspace/output.json`}},
		{"service", "  prompt: hi\n  mode: service\n", []string{`t.yaml:5:9: agent.mode: mode "service" is not supported: only task`}},
		{"interactive", "  mode: interactive\n", []string{
			`t.yaml:4:3: agent: missing required field "prompt" (or "exec" for a command)`,
			`t.yaml:4:9: agent.mode: mode "interactive" is not supported: only task`,
		}},
		{"messaging", "  prompt: hi\n  messaging: {enabled: true}\n", []string{`t.yaml:5:3: agent.messaging: agent messaging is not available yet`}},
		{"max turns", "  prompt: hi\n  max_turns: 0\n", []string{`t.yaml:5:14: agent.max_turns: 0 is out of range [1, 10000]`}},
		{"runtime", "  prompt: hi\n  runtime: codex\n", []string{`t.yaml:5:12: agent.runtime: unknown runtime "codex" (valid: voidbox, claude-code)`}},
		{"runtime conflict", "  prompt: hi\n  runtime: voidbox\n  skills: [\"agent:claude-code\"]\n", []string{`t.yaml:6:12: agent.skills[0]: agent:claude-code conflicts with runtime: voidbox`}},
		{"two agent skills", "  prompt: hi\n  skills: [\"agent:claude-code\", \"agent:voidbox\"]\n", []string{
			`t.yaml:5:33: agent.skills[1]: more than one agent skill (first at line 5)`,
		}},
		{"exec with agent fields", "  exec: [ls]\n  max_turns: 3\n  runtime: claude-code\n", []string{
			`t.yaml:5:3: agent.max_turns: only applies to prompt boxes, not to exec`,
			`t.yaml:6:3: agent.runtime: only applies to prompt boxes, not to exec`,
		}},
		{"retries", "  prompt: hi\n  retries: -1\n  retry_backoff: 2h\n", []string{
			`t.yaml:5:12: agent.retries: -1 is out of range [0, 100]`,
			`t.yaml:6:18: agent.retry_backoff: duration 2h0m0s is out of range [0s, 1h0m0s]`,
		}},
		{"not allowed", "  exec: [/usr/bin/curl, x]\n", nil},
	}
	for _, tt := range tests {
		if tt.want == nil {
			continue // covered below with a sandbox
		}
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "t.yaml", head+tt.src, tt.want...) })
	}
	t.Run("allowlist", func(t *testing.T) {
		src := "kind: agent\nname: a\nsandbox:\n  allowed_commands: [sh, cat]\nagent:\n  exec: [/usr/bin/curl, x]\n"
		wantErrors(t, "t.yaml", src, `t.yaml:6:10: agent.exec[0]: command "/usr/bin/curl" is not in sandbox.allowed_commands (sh, cat)`)
	})
	t.Run("allowlist outside the system directories", func(t *testing.T) {
		src := "kind: agent\nname: a\nsandbox:\n  allowed_commands: [run.sh]\nagent:\n  exec: [/workspace/run.sh]\n"
		wantErrors(t, "t.yaml", src, `t.yaml:6:10: agent.exec[0]: command "/workspace/run.sh" is outside the directories `+
			`sandbox.allowed_commands trusts (/bin, /sbin, /usr/bin, /usr/sbin, /usr/local/bin, /usr/local/sbin)`)
	})
	t.Run("empty allowlist", func(t *testing.T) {
		src := "kind: agent\nname: a\nsandbox:\n  allowed_commands: []\nagent:\n  exec: [echo, x]\n"
		wantErrors(t, "t.yaml", src, `t.yaml:6:10: agent.exec[0]: command "echo" is not in sandbox.allowed_commands (empty: no command may run)`)
	})
	t.Run("claude-code with an allowlist", func(t *testing.T) {
		src := "kind: agent\nname: a\nsandbox:\n  allowed_commands: [sh]\nagent:\n  prompt: hi\n  runtime: claude-code\n"
		wantErrors(t, "t.yaml", src, `t.yaml:7:12: agent.runtime: runtime claude-code cannot enforce sandbox.allowed_commands yet: `+
			`remove the allowlist or use runtime voidbox`)
		src = "kind: agent\nname: a\nsandbox:\n  allowed_commands: []\nagent:\n  prompt: hi\n  skills: [\"agent:claude-code\"]\n"
		wantErrors(t, "t.yaml", src, `t.yaml:7:12: agent.skills[0]: runtime claude-code cannot enforce sandbox.allowed_commands yet: `+
			`remove the allowlist or use runtime voidbox`)
	})
}
