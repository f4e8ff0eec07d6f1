package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
)

func TestImagesAndMounts(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"repo", "out", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := `kind: pipeline
name: p
sandbox:
  image: localhost:5000/toolbox:1
  mounts:
    - {host: repo, guest: /workspace/repo}
    - {host: ./out, guest: /out, mode: rw}
pipeline:
  boxes:
    - {name: a, exec: [ls]}
    - name: b
      exec: [ls]
      sandbox: {image: "debian@sha256:` + digest64 + `", mounts: [{host: ` + filepath.Join(dir, "data") + `, guest: /data}]}
`
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Pipeline.Box("a").Sandbox.Policy, s.Pipeline.Box("b").Sandbox.Policy
	want := []policy.Mount{
		{Host: filepath.Join(dir, "repo"), Guest: "/workspace/repo", Mode: policy.ReadOnly},
		{Host: filepath.Join(dir, "out"), Guest: "/out", Mode: policy.ReadWrite},
	}
	if a.Image != "localhost:5000/toolbox:1" || !slices.Equal(a.Mounts, want) {
		t.Errorf("box a: image %q, mounts %+v", a.Image, a.Mounts)
	}
	// A box's mounts replace the inherited list; its image replaces the image.
	if b.Image != "debian@sha256:"+digest64 || !slices.Equal(b.Mounts, []policy.Mount{{Host: filepath.Join(dir, "data"), Guest: "/data", Mode: policy.ReadOnly}}) {
		t.Errorf("box b: image %q, mounts %+v", b.Image, b.Mounts)
	}
	if err := a.Validate(); err != nil {
		t.Error(err)
	}
}

const digest64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestOCISkills(t *testing.T) {
	s, err := Parse("s.yaml", []byte(`kind: agent
name: a
agent:
  prompt: hi
  skills:
    - {oci: ghcr.io/acme/go-tools:1.22}
    - {image: "acme/lint@sha256:`+digest64+`", mount: /opt/lint, readonly: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Agent.Skills
	if len(got) != 2 || got[0].Kind != SkillOCI || got[0].Name != "go-tools" || got[0].Mount != "/skills/go-tools" ||
		got[0].Image != "ghcr.io/acme/go-tools:1.22" || got[1].Name != "lint" || got[1].Mount != "/opt/lint" {
		t.Errorf("skills %+v", got)
	}
	wantErrors(t, "s.yaml", `kind: agent
name: a
agent:
  prompt: hi
  skills:
    - {oci: "a b"}
    - {oci: x, mount: relative}
    - {oci: x, image: y}
    - {oci: x, mount: /skills/x, extra: 1}
    - {oci: y, mount: /skills/x}
`,
		`s.yaml:6:13: agent.skills[0].oci: image reference "a b" contains spaces`,
		`s.yaml:7:23: agent.skills[1].mount: "relative" is not an absolute guest path`,
		`s.yaml:8:16: agent.skills[2].image: oci and image are mutually exclusive`,
		`s.yaml:9:34: agent.skills[3].extra: unknown field "extra" (known: oci, image, mount, readonly)`,
		`s.yaml:10:7: agent.skills[4]: duplicate oci skill name "x" (first at line 9)`,
	)
}

func TestBoxOutputsAndInputs(t *testing.T) {
	s, err := Parse("p.yaml", []byte(`kind: pipeline
name: p
pipeline:
  boxes:
    - {name: make, exec: [ls], outputs: [{name: build}, {name: logs, guest: /workspace/logs}]}
    - {name: test, exec: [ls], inputs: [{from: build}]}
    - {name: lint, exec: [ls], inputs: [{from: build, guest: /src}]}
    - {name: report, exec: [ls], inputs: [{from: logs}]}
  stages: [{box: make}, {fan_out: [test, lint]}, {box: report}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pipeline
	if o := p.Box("make").Outputs; len(o) != 2 || o[0].Name != "build" || o[0].Guest != DefaultOutputDir || o[1].Guest != "/workspace/logs" {
		t.Errorf("outputs %+v", o)
	}
	if in := p.Box("test").Inputs; len(in) != 1 || in[0].From != "build" || in[0].Guest != DefaultInputDir {
		t.Errorf("inputs %+v", in)
	}
	if in := p.Box("lint").Inputs; in[0].Guest != "/src" {
		t.Errorf("inputs %+v", in)
	}
	wantErrors(t, "p.yaml", `kind: pipeline
name: p
sandbox:
  mounts: [{host: ., guest: /workspace/output}]
pipeline:
  boxes:
    - {name: a, exec: [ls], outputs: [{name: o}], inputs: [{from: o}]}
    - {name: b, exec: [ls], outputs: [{name: o}, {name: p, guest: /workspace/p}], inputs: [{from: q}, {from: r}]}
    - {name: c, exec: [ls], outputs: [{name: r}], inputs: [{from: p}]}
    - {name: d, exec: [ls], inputs: [{from: p}, {from: p}]}
  stages: [{box: a}, {fan_out: [b, c]}, {box: d}]
`,
		`p.yaml:7:39: pipeline.boxes[0].outputs[0].guest: /workspace/output overlaps another mount of box "a" (/workspace/output)`,
		`p.yaml:7:60: pipeline.boxes[0].inputs[0]: box "a" reads its own output "o"`,
		`p.yaml:8:39: pipeline.boxes[1].outputs[0]: output "o" is also box "a"'s (line 7): output names are unique in a pipeline`,
		`p.yaml:8:39: pipeline.boxes[1].outputs[0].guest: /workspace/output overlaps another mount of box "b" (/workspace/output)`,
		`p.yaml:8:92: pipeline.boxes[1].inputs[0]: no box has an output named "q"`,
		`p.yaml:8:103: pipeline.boxes[1].inputs[1]: output "r" comes from box "c", which does not run before "b"`,
		`p.yaml:8:103: pipeline.boxes[1].inputs[1].guest: /workspace/input overlaps another mount of box "b" (/workspace/input)`,
		`p.yaml:9:39: pipeline.boxes[2].outputs[0].guest: /workspace/output overlaps another mount of box "c" (/workspace/output)`,
		`p.yaml:9:60: pipeline.boxes[2].inputs[0]: output "p" comes from box "b", which does not run before "c"`,
		`p.yaml:10:49: pipeline.boxes[3].inputs[1].guest: /workspace/input overlaps another mount of box "d" (/workspace/input)`,
	)
}
