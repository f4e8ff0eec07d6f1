package spec

import "testing"

func TestErrorsPipeline(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"the brief's example", `kind: pipeline
name: p
pipeline:
  boxes:
    - {name: a, exec: [echo, a]}
    - {name: b, exec: [echo, b]}
  stages:
    - box: a
    - box: b
    - fan_out:
        - a
        - x
`, []string{
			`t.yaml:11:11: pipeline.stages[2].fan_out[0]: box "a" is already used by a stage (line 8)`,
			`t.yaml:12:11: pipeline.stages[2].fan_out[1]: unknown box "x" (defined: a, b)`,
		}},
		{"seed form", `kind: pipeline
name: p
pipeline:
  boxes:
    - {name: a, exec: [echo, a]}
    - {name: b, exec: [echo, b]}
  stages:
    - {type: box, name: c}
    - {type: fan_out, boxes: [a, b, d]}
`, []string{
			`t.yaml:8:25: pipeline.stages[0].name: unknown box "c" (defined: a, b)`,
			`t.yaml:9:37: pipeline.stages[1].boxes[2]: unknown box "d" (defined: a, b)`,
		}},
		{"stage shapes", `kind: pipeline
name: p
pipeline:
  boxes: [{name: a, exec: [echo]}]
  stages:
    - {type: fan_in, boxes: [a]}
    - {type: box, boxes: [a]}
    - {box: a, fan_out: [a]}
    - {run: a}
    - {fan_out: []}
    - a
`, []string{
			`t.yaml:6:14: pipeline.stages[0].type: unknown stage type "fan_in" (valid: box, fan_out)`,
			`t.yaml:7:7: pipeline.stages[1]: missing required field "name"`,
			`t.yaml:7:19: pipeline.stages[1].boxes: a stage of type box names one box with "name"`,
			`t.yaml:8:16: pipeline.stages[2].fan_out: a stage is either box or fan_out, not both`,
			`t.yaml:9:7: pipeline.stages[3]: want {box: NAME}, {fan_out: [NAMES]}, {type: box, name: NAME} or {type: fan_out, boxes: [NAMES]}`,
			`t.yaml:9:8: pipeline.stages[3].run: unknown field "run" (known: box, fan_out)`,
			`t.yaml:10:17: pipeline.stages[4].fan_out: empty fan-out: list at least one box`,
			`t.yaml:11:7: pipeline.stages[5]: want a mapping, got a string`,
		}},
		{"unused box", `kind: pipeline
name: p
pipeline:
  boxes:
    - {name: a, exec: [echo]}
    - {name: b, exec: [echo]}
  stages: [{box: a}]
`, []string{`t.yaml:6:7: pipeline.boxes[1]: box "b" is not used by any stage`}},
		{"boxes", `kind: pipeline
name: p
pipeline:
  boxes:
    - {name: Build, exec: [make]}
    - {name: a, exec: [echo]}
    - {name: a, prompt: hi}
    - {exec: [echo]}
    - {name: c, exec: [echo], outputs: [{name: o}], promt: x}
  max_parallel: 0
`, []string{
			`t.yaml:5:14: pipeline.boxes[0].name: invalid name "Build": want 1-63 of a-z, 0-9, '_' and '-'`,
			`t.yaml:7:7: pipeline.boxes[2].name: duplicate box name "a" (first at line 6)`,
			`t.yaml:8:7: pipeline.boxes[3]: missing required field "name"`,
			`t.yaml:9:53: pipeline.boxes[4].promt: unknown field "promt" (did you mean "prompt"?)`,
			`t.yaml:10:17: pipeline.max_parallel: 0 is out of range [1, 2147483647]`,
		}},
		{"box sets custom", `kind: pipeline
name: p
pipeline:
  boxes:
    - name: a
      prompt: hi
      llm: {provider: custom, model: m}
`, []string{`t.yaml:7:12: pipeline.boxes[0].llm: provider custom (an Anthropic-compatible endpoint) needs base_url`}},
		{"no boxes", "kind: pipeline\nname: p\npipeline:\n  boxes: []\n", []string{`t.yaml:4:10: pipeline.boxes: a pipeline needs at least one box`}},
		{"missing boxes", "kind: pipeline\nname: p\npipeline:\n  stages: []\n", []string{
			`t.yaml:4:3: pipeline: missing required field "boxes"`,
			`t.yaml:4:11: pipeline.stages: empty stages: omit the list to run the boxes in order`,
		}},
		{"box overrides", `kind: pipeline
name: p
sandbox:
  allowed_commands: [echo]
llm:
  provider: custom
  base_url: http://127.0.0.1:8080
pipeline:
  boxes:
    - name: a
      exec: [cat]
      sandbox: {memory_mb: 63, kernel: /vmlinux, network: {allow: ["*"]}, snapshot: X}
    - name: b
      prompt: hi
      llm: {provider: openai, credential_proxy: true}
    - name: c
      prompt: hi
      llm: {provider: custom}
    - name: d
      prompt: hi
      llm: {model: m}
    - name: e
      exec: [echo]
      sandbox: {memory_mb: 128, disk_mb: 80}
    - name: f
      exec: [echo]
      sandbox: {image: x}
`, []string{
			`t.yaml:11:14: pipeline.boxes[0].exec[0]: command "cat" is not in sandbox.allowed_commands (echo)`,
			`t.yaml:12:28: pipeline.boxes[0].sandbox.memory_mb: 63 MiB is outside 128..1048576 MiB`,
			`t.yaml:12:32: pipeline.boxes[0].sandbox.kernel: can only be set in the top-level sandbox`,
			`t.yaml:12:68: pipeline.boxes[0].sandbox.network.allow[0]: "*": a wildcard needs a domain, as in *.example.com`,
			`t.yaml:12:85: pipeline.boxes[0].sandbox.snapshot: snapshot name "X": want 1..64 of [a-z0-9._-] (not starting with '.'), or a directory path`,
			`t.yaml:24:42: pipeline.boxes[4].sandbox.disk_mb: 80 MiB is more than half of the 128 MiB of memory, which holds the disk too`,
		}},
		{"box lowers memory under the disk", `kind: pipeline
name: p
sandbox: {memory_mb: 1024, disk_mb: 300}
pipeline:
  boxes:
    - {name: a, exec: [echo], sandbox: {memory_mb: 512}}
    - {name: b, exec: [echo], sandbox: {memory_mb: 512, disk_mb: 200}}
`, []string{
			`t.yaml:6:52: pipeline.boxes[0].sandbox.memory_mb: 300 MiB is more than half of the 512 MiB of memory, which holds the disk too`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "t.yaml", tt.src, tt.want...) })
	}
}

func TestErrorsWorkflow(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"cycle", `kind: workflow
name: w
workflow:
  steps:
    - {name: a, run: {program: echo}, depends_on: [c]}
    - {name: b, run: {program: echo}, depends_on: [a]}
    - {name: c, run: {program: echo, stdin_from: b}}
    - {name: d, run: {program: echo}, depends_on: [d]}
`, []string{
			`t.yaml:5:7: workflow.steps[0]: dependency cycle: a -> c -> b -> a`,
			`t.yaml:8:7: workflow.steps[3]: dependency cycle: d -> d`,
		}},
		{"references", `kind: workflow
name: w
workflow:
  steps:
    - name: a
      run: {program: echo, stdin_from: z}
      depends_on: [y, a2]
    - name: a2
      run: {program: echo}
      depends_on: [a2x]
  output_step: nope
`, []string{
			`t.yaml:6:40: workflow.steps[0].run.stdin_from: unknown step "z" (defined: a, a2)`,
			`t.yaml:7:20: workflow.steps[0].depends_on[0]: unknown step "y" (defined: a, a2)`,
			`t.yaml:10:20: workflow.steps[1].depends_on[0]: unknown step "a2x" (defined: a, a2)`,
			`t.yaml:11:16: workflow.output_step: unknown step "nope" (defined: a, a2)`,
		}},
		{"steps", `kind: workflow
name: w
workflow:
  steps:
    - {name: a, run: {program: echo}, mode: serve, timeout_secs: 5, timeout: 5s}
    - {name: a, run: {program: echo}}
    - {name: b}
    - {name: c, run: {args: [x]}, depends_on: [b, b]}
    - {name: d, run: {program: "two words", stdin: a}}
  max_parallel: -2
`, []string{
			`t.yaml:5:45: workflow.steps[0].mode: unknown mode "serve" (valid: task, service)`,
			`t.yaml:5:69: workflow.steps[0].timeout: timeout_secs and timeout are mutually exclusive`,
			`t.yaml:6:7: workflow.steps[1].name: duplicate step name "a" (first at line 5)`,
			`t.yaml:7:7: workflow.steps[2]: missing required field "run"`,
			`t.yaml:8:22: workflow.steps[3].run: missing required field "program"`,
			`t.yaml:8:51: workflow.steps[3].depends_on[1]: duplicate dependency "b"`,
			`t.yaml:9:32: workflow.steps[4].run.program: invalid command "two words": want a name or an absolute path, without spaces`,
			`t.yaml:9:45: workflow.steps[4].run.stdin: unknown field "stdin" (did you mean "stdin_from"?)`,
			`t.yaml:10:17: workflow.max_parallel: -2 is out of range [1, 2147483647]`,
		}},
		{"no steps", "kind: workflow\nname: w\nworkflow: {steps: []}\n", []string{`t.yaml:3:19: workflow.steps: a workflow needs at least one step`}},
		{"allowlist", `kind: workflow
name: w
sandbox: {allowed_commands: [sort]}
workflow:
  steps:
    - {name: a, run: {program: wc}, sandbox: {allowed_commands: [wc], mounts: []}}
    - {name: b, run: {program: wc}}
`, []string{
			`t.yaml:7:32: workflow.steps[1].run.program: command "wc" is not in sandbox.allowed_commands (sort)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "t.yaml", tt.src, tt.want...) })
	}
}
