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
			`t.yaml:3:1: foo: unknown field "foo" (known: api_version, kind, name, sandbox, llm, agent, pipeline, workflow, observe)`,
		}},
		{"bad name", "kind: sandbox\nname: my box\n", []string{
			`t.yaml:2:7: name: invalid name "my box": want letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128)`,
		}},
		{"observe", "kind: sandbox\nname: a\nobserve:\n  traces: yes\n  otlp_endpoint: ftp://x\n  telemetry_buffer_size: 3\n", []string{
			`t.yaml:4:11: observe.traces: want true or false, got a string`,
			`t.yaml:5:18: observe.otlp_endpoint: invalid URL "ftp://x": want http:// or https:// and a host`,
			`t.yaml:6:3: observe.telemetry_buffer_size: ` + noBufferSize,
		}},
		{"block for another kind", "kind: sandbox\nname: a\nagent:\n  prompt: hi\n", []string{`t.yaml:3:1: agent: not allowed in a spec of kind sandbox`}},
		{"missing block", "kind: agent\nname: a\n", []string{`t.yaml:1:1: missing required field "agent" for kind agent`}},
		{"wrong blocks", "kind: workflow\nname: a\npipeline:\n  boxes: [{name: a, exec: [true]}]\n", []string{
			`t.yaml:1:1: missing required field "workflow" for kind workflow`,
			`t.yaml:3:1: pipeline: not allowed in a spec of kind workflow`,
		}},
		{"extension fields", "kind: sandbox\nname: a\nx-anchors: {a: 1}\nsandbox:\n  x-note: no\n", []string{
			`t.yaml:5:3: sandbox.x-note: unknown field "x-note" (known: mode, kernel, initramfs, memory_mb, vcpus, network, env, allowed_commands, timeout, disk_mb, image, mounts, attach_shell, ports, ca_certificates, guest_image, snapshot)`,
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
		{"mode", "  mode: remote\n", []string{`t.yaml:4:9: sandbox.mode: unknown mode "remote" (valid: auto, local)`}},
		{"memory type", "  memory_mb: lots\n", []string{`t.yaml:4:14: sandbox.memory_mb: want an integer, got a string`}},
		{"memory low", "  memory_mb: 32\n", []string{`t.yaml:4:14: sandbox.memory_mb: 32 MiB is outside 128..1048576 MiB`}},
		{"memory float", "  memory_mb: 512.5\n", []string{`t.yaml:4:14: sandbox.memory_mb: want an integer, got a number`}},
		{"vcpus", "  vcpus: 65\n", []string{`t.yaml:4:10: sandbox.vcpus: 65 is outside 1..64`}},
		{"vcpus zero", "  vcpus: 0\n", []string{`t.yaml:4:10: sandbox.vcpus: 0 is outside 1..64`}},
		{"huge int", "  vcpus: 99999999999999999999999\n", []string{`t.yaml:4:10: sandbox.vcpus: want an integer, got a number`}},
		{"network type", "  network: yes\n", []string{`t.yaml:4:12: sandbox.network: want true, false or a map, got a string`}},
		{"network patterns", "  network:\n    allow: [\"*\", \"*.\", \"http://x\", 10.0.0.1/8, \"a.com:0\", \"a.com:65536\", ok.com]\n", []string{
			`t.yaml:5:13: sandbox.network.allow[0]: "*": a wildcard needs a domain, as in *.example.com`,
			`t.yaml:5:18: sandbox.network.allow[1]: "*.": a wildcard needs a domain, as in *.example.com`,
			`t.yaml:5:24: sandbox.network.allow[2]: "http://x": a rule is a host name or CIDR, not a URL`,
			`t.yaml:5:36: sandbox.network.allow[3]: "10.0.0.1/8": CIDR has host bits set; did you mean 10.0.0.0/8?`,
			`t.yaml:5:48: sandbox.network.allow[4]: "a.com:0": port must be 1-65535`,
			`t.yaml:5:59: sandbox.network.allow[5]: "a.com:65536": port must be 1-65535`,
		}},
		{"network fields", "  network:\n    deny: [\"10.0.0.0/33\"]\n    host_ports: [0, 11434]\n    hosts: {x.test: not-an-ip}\n    limits: {max_flows: 0, per_second: 1}\n    proxy: on\n", []string{
			`t.yaml:5:12: sandbox.network.deny[0]: "10.0.0.0/33": not a valid CIDR`,
			`t.yaml:6:18: sandbox.network.host_ports[0]: "0": port must be 1-65535`,
			`t.yaml:7:21: sandbox.network.hosts.x.test: "not-an-ip": not an IP address`,
			`t.yaml:8:25: sandbox.network.limits.max_flows: "0": must be at least 1`,
			`t.yaml:8:28: sandbox.network.limits.per_second: unknown field "per_second" (known: conns_per_second, max_flows, max_bytes)`,
			`t.yaml:9:5: sandbox.network.proxy: unknown field "proxy" (known: allow, deny, host_ports, hosts, limits)`,
		}},
		{"ports", "  network: true\n  ports: [\"8080:80\", \"80\", \"x:1:2\", 8080]\n", []string{
			`t.yaml:5:22: sandbox.ports[1]: "80": want HOST_PORT:GUEST_PORT (a guest port alone does not say where the host listens)`,
			`t.yaml:5:28: sandbox.ports[2]: "x:1:2": host address "x" is not an IP address`,
			`t.yaml:5:37: sandbox.ports[3]: want a string, got an integer`,
		}},
		{"ports without network", "  ports: [\"8080:80\"]\n", []string{
			`t.yaml:4:10: sandbox.ports: port forwards need a network (network: true or an allowlist)`,
		}},
		{"ca missing", "  ca_certificates: [no/such.pem]\n", []string{`t.yaml:4:21: sandbox.ca_certificates[0]: no/such.pem: no such file or directory`}},
		{"ca not pem", "  ca_certificates: [testdata/valid/commands.yaml]\n", []string{
			`t.yaml:4:21: sandbox.ca_certificates[0]: testdata/valid/commands.yaml: not PEM: want -----BEGIN CERTIFICATE----- blocks`,
		}},
		// A missing host path is an error, rw too (the seed created it).
		{"mounts", "  mounts:\n    - {host: no/such/dir, guest: /data, mode: rw}\n    - {host: ., guest: data}\n" +
			"    - {host: testdata, guest: /proc/x, mode: rx}\n    - {host: ., guest: /w}\n    - {host: ., guest: /w/sub}\n    - {guest: /z}\n" +
			"    - {host: doc.go, guest: /f}\n", []string{
			`t.yaml:5:14: sandbox.mounts[0].host: no/such/dir: no such file or directory (create it first: a missing host path is an error, not made for you)`,
			`t.yaml:6:24: sandbox.mounts[1].guest: "data" is not an absolute guest path`,
			`t.yaml:7:31: sandbox.mounts[2].guest: /proc/x is reserved for the guest system (/proc, /sys, /dev, /run, /usr/lib/voidbox)`,
			`t.yaml:7:46: sandbox.mounts[2].mode: unknown mode "rx" (valid: ro, rw)`,
			`t.yaml:9:24: sandbox.mounts[4].guest: /w/sub overlaps mounts[3] (/w): mounts may not nest`,
			`t.yaml:10:7: sandbox.mounts[5]: missing required field "host"`,
			`t.yaml:11:14: sandbox.mounts[6].host: doc.go: not a directory`,
		}},
		{"mounts type", "  mounts: {host: .}\n", []string{`t.yaml:4:11: sandbox.mounts: want a list, got a mapping`}},
		{"snapshot name", "  snapshot: Abc\n", []string{`t.yaml:4:13: sandbox.snapshot: snapshot name "Abc": want 1..64 of [a-z0-9._-] (not starting with '.'), or a directory path`}},
		{"snapshot and network", "  snapshot: small\n  network: true\n", []string{`t.yaml:4:13: sandbox.snapshot: a box started from a snapshot cannot have network: a snapshot carries no network device, mounts or image (drop one of them)`}},
		{"snapshot and mounts", "  snapshot: small\n  mounts: [{host: ., guest: /data}]\n", []string{`t.yaml:4:13: sandbox.snapshot: a box started from a snapshot cannot have mounts: a snapshot carries no network device, mounts or image (drop one of them)`}},
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
		{"image", "  image: \"debian 12\"\n", []string{`t.yaml:4:10: sandbox.image: image reference "debian 12" contains spaces`}},
		{"image type", "  image: [debian]\n", []string{`t.yaml:4:10: sandbox.image: want a string, got a list`}},
		{"guest image type", "  guest_image: [x]\n", []string{`t.yaml:4:16: sandbox.guest_image: want a string, got a list`}},
		{"attach shell type", "  attach_shell: yes\n", []string{`t.yaml:4:17: sandbox.attach_shell: want true or false, got a string`}},
		{"attach shell without sh", "  allowed_commands: [echo]\n  attach_shell: true\n", []string{
			`t.yaml:5:17: sandbox.attach_shell: the attach shell is sh, which allowed_commands does not allow: add it or leave attach_shell off`,
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
		{"unknown provider", "  provider: lmstudio\n", []string{`t.yaml:4:13: llm.provider: unknown provider "lmstudio" (valid: claude, anthropic, claude-personal, openai, codex, ollama, lm-studio, custom)`}},
		{"claude-personal key", "  provider: claude-personal\n  api_key_env: MY_KEY\n", []string{`t.yaml:4:3: llm.api_key_env: provider claude-personal uses the host's Claude login (~/.claude/.credentials.json or CLAUDE_CODE_OAUTH_TOKEN), not an API key`}},
		{"lm-studio without model", "  provider: lm-studio\n", []string{`t.yaml:4:3: llm: provider lm-studio needs model: the name LM Studio shows for the model it has loaded`}},
		{"custom without url", "  provider: custom\n", []string{`t.yaml:4:3: llm: provider custom (an Anthropic-compatible endpoint) needs base_url`}},
		{"bad url", "  base_url: ftp://host/x\n", []string{`t.yaml:4:13: llm.base_url: invalid URL "ftp://host/x": want http:// or https:// and a host`}},
		{"url credentials", "  base_url: https://me:secret@host/\n", []string{`t.yaml:4:13: llm.base_url: URL "https://me:xxxxx@host/" carries credentials: keep secrets out of specs`}},
		{"key env", "  api_key_env: my-key\n", []string{`t.yaml:4:16: llm.api_key_env: invalid environment variable name "my-key"`}},
		{"credential proxy off", "  credential_proxy: false\n", []string{`t.yaml:4:21: llm.credential_proxy: false would put the provider key inside the guest; voidbox never does (its gateway adds the key on the host)`}},
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
		{"service ports", "  prompt: hi\n  ports: [8080, 0, 8080]\n", []string{`t.yaml:5:3: agent.ports: only applies to mode: service (the ports its dependants reach; a port forward to the host is sandbox.ports)`}},
		{"service ports values", "  prompt: hi\n  mode: service\n  ports: [8080, 0, 8080]\n", []string{
			`t.yaml:6:17: agent.ports[1]: 0 is out of range [1, 65535]`,
			`t.yaml:6:20: agent.ports[2]: port 8080 given twice`,
		}},
		{"interactive built-in", "  mode: interactive\n  runtime: voidbox\n", []string{
			`t.yaml:4:9: agent.mode: mode interactive needs runtime claude-code (or the agent:claude-code skill): the built-in agent has no interactive session`,
		}},
		{"interactive exec", "  mode: interactive\n  exec: [sh]\n", []string{
			`t.yaml:4:9: agent.mode: mode interactive is a session with an agent, not a command (for a shell: voidbox shell)`,
		}},
		{"interactive turns", "  mode: interactive\n  runtime: claude-code\n  max_turns: 3\n  retries: 1\n", []string{
			`t.yaml:6:3: agent.max_turns: does not apply to mode interactive (a session runs until you leave it)`,
			`t.yaml:7:3: agent.retries: does not apply to mode interactive (a session runs until you leave it)`,
		}},
		{"mode", "  prompt: hi\n  mode: batch\n", []string{`t.yaml:5:9: agent.mode: unknown mode "batch" (valid: task, service, interactive)`}},
		{"messaging", "  prompt: hi\n  messaging: {enabled: true}\n", []string{`t.yaml:5:3: agent.messaging: agent messaging is not available yet`}},
		{"max turns", "  prompt: hi\n  max_turns: 0\n", []string{`t.yaml:5:14: agent.max_turns: 0 is out of range [1, 10000]`}},
		{"runtime", "  prompt: hi\n  runtime: gemini\n", []string{`t.yaml:5:12: agent.runtime: unknown runtime "gemini" (valid: voidbox, claude-code, codex)`}},
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
