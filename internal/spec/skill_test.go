package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files (name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSkillsParse(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"skills/review/SKILL.md": "---\nname: review\ndescription: Review code.\n---\nBody.\n",
		"box.yaml": `kind: agent
name: a
agent:
  prompt: hi
  skills:
    - file:skills/review/SKILL.md
    - "mcp: /opt/mcp/bin/mcp-server-fs  --root /workspace "
    - cli:rg
    - agent:claude-code
    - {name: notes, content: "# Notes\n"}
    - {command: npx, args: [-y, 7], env: {TOKEN: "", MODE: fast}, name: fs2}
    - {name: web, url: "http://127.0.0.1:9000/mcp"}
`,
	})
	s, err := ParseFile(filepath.Join(dir, "box.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sk := s.Agent.Skills
	if len(sk) != 7 {
		t.Fatalf("got %d skills, want 7: %+v", len(sk), sk)
	}
	file := sk[0]
	if file.Kind != SkillFile || file.Name != "review" || file.Description != "Review code." ||
		file.Path != filepath.Join(dir, "skills/review/SKILL.md") || !strings.HasSuffix(file.Content, "Body.\n") {
		t.Errorf("file skill = %+v", file)
	}
	if p := file.Pos; p.Line != 6 || p.Col != 7 || p.File != filepath.Join(dir, "box.yaml") {
		t.Errorf("file skill position = %v, want box.yaml:6:7", p)
	}
	if m := sk[1]; m.Kind != SkillMCP || m.Name != "mcp-server-fs" || m.MCP.Command != "/opt/mcp/bin/mcp-server-fs" ||
		strings.Join(m.MCP.Args, " ") != "--root /workspace" {
		t.Errorf("mcp string skill = %+v %+v", m, m.MCP)
	}
	if c := sk[2]; c.Kind != SkillCLI || c.Name != "rg" {
		t.Errorf("cli skill = %+v", c)
	}
	if a := sk[3]; a.Kind != SkillAgent || a.Runtime != RuntimeClaudeCode || s.Agent.Runtime != RuntimeClaudeCode {
		t.Errorf("agent skill = %+v, box runtime %q", a, s.Agent.Runtime)
	}
	if in := sk[4]; in.Kind != SkillInline || in.Name != "notes" || in.Content != "# Notes\n" {
		t.Errorf("inline skill = %+v", in)
	}
	m := sk[5]
	if m.Kind != SkillMCP || m.Name != "fs2" || m.MCP.Command != "npx" || strings.Join(m.MCP.Args, " ") != "-y 7" ||
		m.MCP.Env["TOKEN"] != (EnvValue{FromHost: true}) || m.MCP.Env["MODE"] != (EnvValue{Value: "fast"}) {
		t.Errorf("mcp object skill = %+v %+v", m, m.MCP)
	}
	if h := sk[6]; h.Kind != SkillMCP || h.Name != "web" || h.MCP.URL != "http://127.0.0.1:9000/mcp" || h.MCP.Command != "" {
		t.Errorf("mcp http skill = %+v %+v", h, h.MCP)
	}
}

func TestSkillsErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"_plain.md":       "# No front matter, and a name no skill can have\n",
		"nodesc/SKILL.md": "---\nname: nodesc\n---\n",
		"badname.md":      "---\nname: ../escape\ndescription: x\n---\n",
		"unclosed.md":     "---\nname: x\ndescription: y\n",
		"badyaml.md":      "---\nname: x\n  description: [\n---\n",
		"listdesc.md":     "---\nname: x\ndescription: [a]\n---\n",
		"ok/SKILL.md":     "---\nname: same\ndescription: y\n---\n",
		"ok2/SKILL.md":    "---\nname: same\ndescription: z\n---\n",
	})
	if err := os.Mkdir("adir", 0o755); err != nil {
		t.Fatal(err)
	}
	src := `kind: agent
name: a
agent:
  prompt: hi
  skills:
    - file:missing/SKILL.md
    - file:_plain.md
    - file:nodesc/SKILL.md
    - file:badname.md
    - file:unclosed.md
    - file:badyaml.md
    - file:listdesc.md
    - file:adir
    - remote:owner/../skill
    - {image: ghcr.io/x/skills:1, mount: /skills, readonly: false}
    - oci:thing
    - "file:"
    - just-a-name
    - 42
    - agent:gemini
    - {name: x}
    - {name: "bad name", content: hi}
    - {name: e, content: "  "}
    - {name: h, url: "ftp://x"}
    - {url: "http://x"}
    - {command: "a b"}
    - {command: npx, extra: 1}
    - mcp:_server
    - file:ok/SKILL.md
    - file:ok2/SKILL.md
    - {name: same, content: dup}
    - cli:rg
    - cli:rg
    - cli:bin/rg
    - "mcp:/ x"
`
	wantErrors(t, "s.yaml", src,
		`s.yaml:6:7: agent.skills[0]: skill file missing/SKILL.md: not found (looked in `+filepath.Join(dir, "missing", "SKILL.md")+`)`,
		`s.yaml:7:7: agent.skills[1]: skill file _plain.md: no YAML front matter, and the file name cannot name the skill: invalid skill name "_plain": want letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)`,
		`s.yaml:8:7: agent.skills[2]: skill file nodesc/SKILL.md: front matter: missing "description"`,
		`s.yaml:9:7: agent.skills[3]: skill file badname.md: front matter: invalid skill name "../escape": want letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)`,
		`s.yaml:10:7: agent.skills[4]: skill file unclosed.md: front matter is not closed by a "---" line`,
		`s.yaml:11:7: agent.skills[5]: skill file badyaml.md: front matter: invalid YAML: line 3: mapping values are not allowed in this context`,
		`s.yaml:12:7: agent.skills[6]: skill file listdesc.md: front matter: line 3: description must be a non-empty string`,
		`s.yaml:13:7: agent.skills[7]: skill file adir: not a regular file`,
		`s.yaml:14:7: agent.skills[8]: remote skill "owner/../skill": invalid name ".."`,
		`s.yaml:15:61: agent.skills[9].readonly: OCI skills are always mounted read-only`,
		`s.yaml:16:7: agent.skills[10]: unknown skill type "oci" (valid: file, mcp, cli, agent)`,
		`s.yaml:17:7: agent.skills[11]: "file:" has no value`,
		`s.yaml:18:7: agent.skills[12]: want "type:value" (file:, mcp:, cli:, agent:), got "just-a-name"`,
		`s.yaml:19:7: agent.skills[13]: want "type:value" or a mapping, got an integer`,
		`s.yaml:20:7: agent.skills[14]: unknown agent "gemini" (valid: voidbox, claude-code, codex)`,
		`s.yaml:21:7: agent.skills[15]: unknown skill: want {name, content}, {command, args, env}, {name, url} or {oci, mount}`,
		`s.yaml:22:14: agent.skills[16].name: invalid skill name "bad name": want letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)`,
		`s.yaml:23:26: agent.skills[17].content: empty content`,
		`s.yaml:24:22: agent.skills[18].url: invalid URL "ftp://x": want http:// or https:// and a host`,
		`s.yaml:25:7: agent.skills[19]: missing required field "name"`,
		`s.yaml:26:17: agent.skills[20].command: invalid command "a b": want a name or an absolute path, without spaces`,
		`s.yaml:27:22: agent.skills[21].extra: unknown field "extra" (known: name, command, args, env)`,
		`s.yaml:28:7: agent.skills[22]: cannot derive an MCP server name from "_server": use the form {name, command, args}`,
		`s.yaml:30:7: agent.skills[24]: duplicate file skill name "same" (first at line 29)`,
		`s.yaml:31:7: agent.skills[25]: duplicate inline skill name "same" (first at line 29)`,
		`s.yaml:33:7: agent.skills[27]: duplicate cli skill name "rg" (first at line 32)`,
		`s.yaml:34:7: agent.skills[28]: invalid cli skill "bin/rg": want a command name`,
		`s.yaml:35:7: agent.skills[29]: invalid command "/": want a name or an absolute path, without spaces`,
	)
}

// TestSkillFileFromWorkingDirectory: a relative file: skill is looked up in
// the spec's folder, then in the working directory (the seed's examples
// name files from their repository root); when neither has it, the error
// names both paths.
func TestSkillFileFromWorkingDirectory(t *testing.T) {
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "examples", "hn", "skills"), 0o755)
	os.WriteFile(filepath.Join(repo, "examples", "hn", "skills", "api.md"), []byte("---\nname: hn-api\ndescription: HN API via curl\n---\nuse curl"), 0o644)
	specFile := filepath.Join(repo, "examples", "hn", "agent.yaml")
	os.WriteFile(specFile, []byte("api_version: v1\nkind: agent\nname: hn\nagent:\n  prompt: p\n  skills:\n    - file:examples/hn/skills/api.md\n"), 0o644)
	t.Chdir(repo)
	s, err := ParseFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	if sk := s.Agent.Skills; len(sk) != 1 || sk[0].Name != "hn-api" || sk[0].Path != filepath.Join(repo, "examples", "hn", "skills", "api.md") {
		t.Errorf("skills %+v", sk)
	}
	t.Chdir(t.TempDir())
	_, err = ParseFile(specFile)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(repo, "examples", "hn", "examples", "hn", "skills", "api.md")) ||
		!strings.Contains(err.Error(), "looked in") || strings.Count(err.Error(), "api.md") < 3 {
		t.Errorf("missing skill: %v", err)
	}
}

func TestRemoteSkillParses(t *testing.T) {
	s, err := Parse("r.yaml", []byte("kind: agent\nname: a\nagent:\n  prompt: hi\n  skills: [\"remote:acme/skills/hn-api@v1.2\", \"remote:acme/solo\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	sk := s.Agent.Skills
	if len(sk) != 2 || sk[0].Kind != SkillRemote || sk[0].Name != "acme/skills/hn-api@v1.2" || sk[1].Name != "acme/solo" {
		t.Errorf("skills %+v", sk)
	}
}
