package spec

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/voidbox/voidbox/internal/wire"
	"go.yaml.in/yaml/v3"
)

const schemaPath = "../../schema/voidbox.schema.json"

// loadSchema compiles the published schema (which also checks it against
// the draft 2020-12 metaschema) and returns it with its raw $defs.
func loadSchema(t *testing.T) (*jsonschema.Schema, map[string]map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("voidbox.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("voidbox.schema.json")
	if err != nil {
		t.Fatalf("compiling the schema: %v", err)
	}
	var plain struct {
		Defs map[string]map[string]any `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &plain); err != nil {
		t.Fatal(err)
	}
	return sch, plain.Defs
}

// TestSchemaMatchesDecoder checks that every object of the format lists the
// same fields in the schema as in the decoder, that refused fields are
// refused there too with the same reason, and that no object is missing.
func TestSchemaMatchesDecoder(t *testing.T) {
	_, defs := loadSchema(t)
	known := map[string]bool{}
	for _, obj := range allObjects {
		known[obj.name] = true
		def, ok := defs[obj.name]
		if !ok {
			t.Errorf("schema has no $defs/%s", obj.name)
			continue
		}
		props, _ := def["properties"].(map[string]any)
		want := append(slices.Clone(obj.fields), slices.Collect(maps.Keys(obj.rejected))...)
		slices.Sort(want)
		if got := slices.Sorted(maps.Keys(props)); !slices.Equal(got, want) {
			t.Errorf("$defs/%s properties = %v\n decoder fields = %v", obj.name, got, want)
		}
		for field, why := range obj.rejected {
			p, _ := props[field].(map[string]any)
			if p["not"] == nil || p["description"] != "Refused: "+why+"." {
				t.Errorf("$defs/%s.%s = %v, want a refusal saying %q", obj.name, field, p, why)
			}
		}
		for _, field := range obj.fields {
			if p, _ := props[field].(map[string]any); p["not"] != nil && len(p) <= 2 {
				t.Errorf("$defs/%s.%s is refused in the schema but accepted by the decoder", obj.name, field)
			}
		}
		if def["additionalProperties"] != false {
			t.Errorf("$defs/%s does not forbid unknown fields", obj.name)
		}
		pp, _ := def["patternProperties"].(map[string]any)
		_, hasExt := pp["^x-"]
		if hasExt != obj.extensions {
			t.Errorf("$defs/%s x- extensions: schema %v, decoder %v", obj.name, hasExt, obj.extensions)
		}
	}
	for name, def := range defs {
		if _, ok := def["properties"]; ok && !known[name] {
			t.Errorf("$defs/%s has properties but the decoder has no such object", name)
		}
	}
}

// TestSchemaPatterns checks that the schema's string patterns are the
// decoder's regular expressions.
func TestSchemaPatterns(t *testing.T) {
	_, defs := loadSchema(t)
	for def, want := range map[string]string{
		"SpecName":  specNameRE.String(),
		"StageName": stageNameRE.String(),
		"SkillName": skillNameRE.String(),
		"EnvName":   envNameRE.String(),
		"Command":   commandRE.String(),
		// The allowlist rule is the guest's (internal/wire).
		"CommandName": wire.CommandNamePattern,
		"Duration":    durationRE.String(),
	} {
		if got := defs[def]["pattern"]; got != want {
			t.Errorf("$defs/%s.pattern = %q, decoder uses %q", def, got, want)
		}
	}
}

// instance decodes a YAML or JSON spec the way a schema validator would see
// it (anchors and merge keys expanded).
func instance(t *testing.T, name string, data []byte) any {
	t.Helper()
	if isJSON(name, data) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestValidSpecsValidate parses every valid fixture and example, and
// validates each against the schema.
func TestValidSpecsValidate(t *testing.T) {
	sch, _ := loadSchema(t)
	var files []string
	for _, pat := range []string{"testdata/valid/*.yaml", "testdata/valid/*.json", "../../examples/*.yaml"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 9 {
		t.Fatalf("found only %d specs: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := ParseFile(f); err != nil {
				t.Errorf("parse:\n%v", err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(instance(t, f, data)); err != nil {
				t.Errorf("schema:\n%v", err)
			}
		})
	}
}

// TestSchemaRejects checks that structural problems are caught by the schema
// as well as by the parser, so editors flag them.
func TestSchemaRejects(t *testing.T) {
	sch, _ := loadSchema(t)
	const agent = "kind: agent\nname: a\n"
	for _, src := range []string{
		"name: a\n",
		"kind: job\nname: a\n",
		"api_version: v2\nkind: sandbox\nname: a\n",
		"kind: sandbox\nname: a\nnmae: b\n",
		"kind: sandbox\nname: a\nobserve: {traces: 1}\n",
		"kind: sandbox\nname: a\nobserve: {telemetry_buffer_size: 10}\n",
		"kind: sandbox\nname: a\nagent: {prompt: hi}\n",
		agent,
		"kind: sandbox\nname: a\nsandbox: {memory_mb: 32}\n",
		"kind: sandbox\nname: a\nsandbox: {vcpus: 65}\n",
		"kind: sandbox\nname: a\nsandbox: {network: yes}\n",
		"kind: sandbox\nname: a\nsandbox: {network: {allow: [\"*\"]}}\n",
		"kind: sandbox\nname: a\nsandbox: {network: {allow: [\"http://x\"]}}\n",
		"kind: sandbox\nname: a\nsandbox: {network: {proxy: true}}\n",
		"kind: sandbox\nname: a\nsandbox: {network: {host_ports: [0]}}\n",
		"kind: sandbox\nname: a\nsandbox: {network: {limits: {max_flows: 0}}}\n",
		"kind: sandbox\nname: a\nsandbox: {network: true, ports: [\"80\"]}\n",
		"kind: sandbox\nname: a\nsandbox: {mounts: [{guest: /data}]}\n",
		"kind: sandbox\nname: a\nsandbox: {mounts: [{host: ., guest: data}]}\n",
		"kind: sandbox\nname: a\nsandbox: {mounts: [{host: ., guest: /data, mode: rx}]}\n",
		"kind: sandbox\nname: a\nsandbox: {timeout: 30}\n",
		"kind: sandbox\nname: a\nsandbox: {timeout: -1s}\n",
		"kind: sandbox\nname: a\nsandbox: {image: -debian}\n",
		"kind: sandbox\nname: a\nsandbox: {guest_image: [x]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls], sandbox: {guest_image: x}}]}\n",
		"kind: sandbox\nname: a\nsandbox: {allowed_commands: [/bin/echo]}\n",
		"kind: sandbox\nname: a\nsandbox: {allowed_commands: [..]}\n",
		"kind: sandbox\nname: a\nsandbox: {disk_mb: 8}\n",
		"kind: sandbox\nname: a\nsandbox: {env: {1A: x}}\n",
		"kind: sandbox\nname: a\nllm: {provider: lmstudio}\n",
		"kind: sandbox\nname: a\nllm: {credential_proxy: false}\n",
		"kind: sandbox\nname: a\nllm: {base_url: \"https://u:p@h/\"}\n",
		agent + "agent: {prompt: hi, exec: [ls]}\n",
		agent + "agent: {timeout: 1s}\n",
		agent + "agent: {prompt: hi, timeout: 1s, timeout_secs: 1}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: b, prompt: hi, mode: interactive}]}\n",
		agent + "agent: {prompt: hi, mode: service, ports: []}\n",
		agent + "agent: {prompt: hi, output_file: out.json}\n",
		agent + "agent: {prompt: hi, output_file: /a/../b}\n",
		agent + "agent: {prompt: hi, skills: [\"remote:a\"]}\n",
		agent + "agent: {prompt: hi, skills: [\"agent:gemini\"]}\n",
		agent + "agent: {prompt: hi, skills: [{image: x, mount: /s, readonly: false}]}\n",
		agent + "agent: {prompt: hi, skills: [{oci: x, image: y}]}\n",
		agent + "agent: {prompt: hi, skills: [{name: x}]}\n",
		agent + "agent: {exec: []}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: []}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: A, exec: [ls]}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls], outputs: [{guest: /o}]}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls], inputs: [{guest: /i}]}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls], sandbox: {kernel: x}}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls]}], stages: [{box: a, fan_out: [a]}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls]}], stages: [{type: box, boxes: [a]}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls]}], stages: [{fan_out: []}]}\n",
		"kind: pipeline\nname: p\npipeline: {boxes: [{name: a, exec: [ls]}], max_parallel: 0}\n",
		"kind: workflow\nname: w\nworkflow: {steps: [{name: a}]}\n",
		"kind: workflow\nname: w\nworkflow: {steps: [{name: a, run: {program: ls}, mode: service, ports: [0]}]}\n",
		"kind: workflow\nname: w\nworkflow: {steps: [{name: a, run: {program: ls, stdin: b}}]}\n",
	} {
		name := "t.yaml"
		if _, err := Parse(name, []byte(src)); err == nil {
			t.Errorf("parser accepts:\n%s", src)
		}
		if err := sch.Validate(instance(t, name, []byte(src))); err == nil {
			t.Errorf("schema accepts:\n%s", src)
		}
	}
}

// TestSchemaEnums checks that each enum value the schema offers parses.
func TestSchemaEnums(t *testing.T) {
	_, defs := loadSchema(t)
	enum := func(def, field string) []string {
		var out []string
		for _, v := range defs[def]["properties"].(map[string]any)[field].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	var srcs []string
	for _, p := range enum("LLM", "provider") {
		srcs = append(srcs, "kind: sandbox\nname: a\nllm: {provider: "+p+", base_url: \"http://h\", model: m}\n")
	}
	for _, m := range enum("Sandbox", "mode") {
		srcs = append(srcs, "kind: sandbox\nname: a\nsandbox: {mode: "+m+"}\n")
	}
	for _, r := range enum("Agent", "runtime") {
		srcs = append(srcs, "kind: agent\nname: a\nagent: {prompt: hi, runtime: "+r+", skills: [\"agent:"+r+"\"]}\n")
	}
	for _, k := range enum("Spec", "kind") {
		block := map[string]string{
			"agent":    "agent: {exec: [ls]}\n",
			"pipeline": "pipeline: {boxes: [{name: a, exec: [ls]}]}\n",
			"workflow": "workflow: {steps: [{name: a, run: {program: ls}}]}\n",
		}[k]
		srcs = append(srcs, "kind: "+k+"\nname: a\n"+block)
	}
	for _, src := range srcs {
		if _, err := Parse("t.yaml", []byte(src)); err != nil {
			t.Errorf("%s:\n%v", strings.TrimSpace(src), err)
		}
	}
}
