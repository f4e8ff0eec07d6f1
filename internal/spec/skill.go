package spec

import (
	"path"
	"strings"

	"github.com/voidbox/voidbox/internal/skillfetch"

	"go.yaml.in/yaml/v3"
)

// SkillKind is what a skill provides.
type SkillKind string

const (
	// SkillFile is a SKILL.md file from the host (front matter: name and
	// description), materialised in the guest.
	SkillFile SkillKind = "file"
	// SkillInline is SKILL.md-like text written in the spec.
	SkillInline SkillKind = "inline"
	// SkillMCP is an MCP server: a command speaking stdio in the guest, or a
	// streamable-HTTP URL.
	SkillMCP SkillKind = "mcp"
	// SkillCLI declares a command-line tool the agent may use.
	SkillCLI SkillKind = "cli"
	// SkillAgent selects the agent runtime; Box.Runtime already reflects it.
	SkillAgent SkillKind = "agent"
	// SkillRemote is a SKILL.md fetched on the host when the spec runs
	// (remote:OWNER/REPO/SKILL[@REV]); Name is the reference until then.
	SkillRemote SkillKind = "remote"
	// SkillOCI is an OCI image mounted read-only at Mount in the guest: its
	// bin/ goes on the agent's PATH and its SKILL.md, if any, is read like
	// a file skill's.
	SkillOCI SkillKind = "oci"
)

// Skill is one declared capability of a box.
type Skill struct {
	Kind SkillKind
	// Name is unique among a box's skills of the same family (file and
	// inline share one): the front-matter name, the given or derived MCP
	// server name, the CLI command, or the runtime for SkillAgent.
	Name string
	// Description comes from a SKILL.md file's front matter.
	Description string
	// Path is the absolute host path of a SkillFile.
	Path string
	// Content is the text of a SkillFile (read at parse time, so the runtime
	// installs what was validated) or of a SkillInline.
	Content string
	// MCP is set for SkillMCP.
	MCP *MCPServer
	// Runtime is set for SkillAgent.
	Runtime Runtime
	// Image (a reference) and Mount (an absolute guest path) are set for
	// SkillOCI.
	Image, Mount string
	// Pos is where the skill is declared in the spec.
	Pos Pos

	path string // document path, for problems found after decoding
}

// MCPServer is how to reach an MCP server: Command (stdio, run in the guest)
// or URL (streamable HTTP).
type MCPServer struct {
	Command string
	Args    []string
	Env     Env
	URL     string
}

// skills decodes a skill list.
func (d *decoder) skills(n *yamlNode, path string) []Skill {
	items, ok := d.seq(n, path)
	if !ok {
		return nil
	}
	var out []Skill
	for i, c := range items {
		if c == nil {
			continue
		}
		p := index(path, i)
		var s Skill
		switch {
		case c.Kind == yaml.ScalarNode && c.ShortTag() == "!!str":
			s, ok = d.skillString(c, p)
		case c.Kind == yaml.MappingNode:
			s, ok = d.skillObject(c, p)
		default:
			d.at(c, p, `want "type:value" or a mapping, got %s`, describe(c))
			ok = false
		}
		if ok {
			s.Pos, s.path = d.pos(c), p
			out = append(out, s)
		}
	}
	d.uniqueSkills(out)
	return out
}

// skillString decodes the "type:value" form.
func (d *decoder) skillString(n *yamlNode, p string) (Skill, bool) {
	typ, val, found := strings.Cut(n.Value, ":")
	typ, val = strings.TrimSpace(typ), strings.TrimSpace(val)
	if !found {
		d.at(n, p, `want "type:value" (file:, mcp:, cli:, agent:), got %q`, n.Value)
		return Skill{}, false
	}
	if val == "" {
		d.at(n, p, "%q has no value", typ+":")
		return Skill{}, false
	}
	switch typ {
	case "file":
		return d.skillFile(n, p, val)
	case "mcp":
		args := strings.Fields(val)
		if err := checkCommand(args[0]); err != nil {
			d.at(n, p, "%v", err)
			return Skill{}, false
		}
		name, ok := d.mcpName(n, p, args[0])
		return Skill{Kind: SkillMCP, Name: name, MCP: &MCPServer{Command: args[0], Args: args[1:]}}, ok
	case "cli":
		if err := checkCommand(val); err != nil || strings.Contains(val, "/") {
			d.at(n, p, "invalid cli skill %q: want a command name", val)
			return Skill{}, false
		}
		return Skill{Kind: SkillCLI, Name: val}, true
	case "agent":
		switch r := Runtime(val); r {
		case RuntimeVoidbox, RuntimeClaudeCode, RuntimeCodex:
			return Skill{Kind: SkillAgent, Name: val, Runtime: r}, true
		default:
			d.at(n, p, "unknown agent %q (valid: voidbox, claude-code, codex)", val)
		}
	case "remote":
		ref, err := skillfetch.ParseRef(val)
		if err != nil {
			d.at(n, p, "%v", err)
			return Skill{}, false
		}
		return Skill{Kind: SkillRemote, Name: ref.String()}, true
	default:
		d.at(n, p, "unknown skill type %q (valid: file, mcp, cli, agent)", typ)
	}
	return Skill{}, false
}

// skillObject decodes the mapping forms, told apart by their keys.
func (d *decoder) skillObject(n *yamlNode, p string) (Skill, bool) {
	f := d.anyMapping(n, p)
	if f == nil {
		return Skill{}, false
	}
	switch {
	case f.has("oci") || f.has("image"):
		return d.ociSkill(f)
	case f.has("content"):
		return d.skillInline(f)
	case f.has("url"):
		return d.skillMCPHTTP(f)
	case f.has("command"):
		return d.skillMCPStdio(f)
	}
	d.at(n, p, "unknown skill: want {name, content}, {command, args, env}, {name, url} or {oci, mount}")
	return Skill{}, false
}

func (d *decoder) skillInline(f *fields) (Skill, bool) {
	f.restrict(&skillInlineObject)
	ok := f.require("name")
	s := Skill{Kind: SkillInline}
	s.Name, ok = d.skillName(f, ok)
	if v, good := f.str("content"); good && strings.TrimSpace(v) != "" {
		s.Content = v
	} else {
		if good {
			d.at(f.m["content"].val, join(f.path, "content"), "empty content")
		}
		ok = false
	}
	return s, ok
}

func (d *decoder) skillMCPHTTP(f *fields) (Skill, bool) {
	f.restrict(&skillMCPHTTPObject)
	ok := f.require("name")
	s := Skill{Kind: SkillMCP, MCP: &MCPServer{}}
	s.Name, ok = d.skillName(f, ok)
	v, good := f.str("url")
	if good {
		if err := checkHTTPURL(v); err != nil {
			d.at(f.m["url"].val, join(f.path, "url"), "%v", err)
			good = false
		}
	}
	s.MCP.URL = v
	return s, ok && good
}

func (d *decoder) skillMCPStdio(f *fields) (Skill, bool) {
	f.restrict(&skillMCPStdioObject)
	s := Skill{Kind: SkillMCP, MCP: &MCPServer{}}
	cmd, ok := f.str("command")
	if ok {
		if err := checkCommand(cmd); err != nil {
			d.at(f.m["command"].val, join(f.path, "command"), "%v", err)
			ok = false
		}
	}
	s.MCP.Command = cmd
	if f.has("name") {
		s.Name, ok = d.skillName(f, ok)
	} else if ok {
		s.Name, ok = d.mcpName(f.m["command"].val, join(f.path, "command"), cmd)
	}
	if args, good := f.strList("args", d.word); good {
		s.MCP.Args = args
	} else if f.has("args") {
		ok = false
	}
	if n, path, has := f.get("env"); has {
		env, good := d.env(n, path)
		s.MCP.Env, ok = env, ok && good
	}
	return s, ok
}

// skillName decodes and checks the name field; ok is passed through.
func (d *decoder) skillName(f *fields, ok bool) (string, bool) {
	v, good := f.str("name")
	if !good {
		return "", false
	}
	if err := checkSkillName(v); err != nil {
		d.at(f.m["name"].val, join(f.path, "name"), "%v", err)
		return v, false
	}
	return v, ok
}

// mcpName derives a server name from its command, such as "mcp-server-git"
// from "/usr/bin/mcp-server-git".
func (d *decoder) mcpName(n *yamlNode, p, cmd string) (string, bool) {
	name := path.Base(cmd)
	if err := checkSkillName(name); err != nil {
		d.at(n, p, "cannot derive an MCP server name from %q: use the form {name, command, args}", cmd)
		return "", false
	}
	return name, true
}

// uniqueSkills reports skills that would collide when installed: SKILL.md
// files and inline skills share a directory namespace, MCP servers share
// the MCP config, and a box has at most one agent runtime skill.
func (d *decoder) uniqueSkills(skills []Skill) {
	family := func(k SkillKind) SkillKind {
		if k == SkillInline {
			return SkillFile
		}
		return k
	}
	type key struct {
		fam  SkillKind
		name string
	}
	seen := map[key]Skill{}
	var agent *Skill
	for i, s := range skills {
		if s.Kind == SkillAgent {
			if agent != nil {
				d.atPos(s.Pos, s.path, "more than one agent skill (first at line %d)", agent.Pos.Line)
			}
			agent = &skills[i]
			continue
		}
		k := key{family(s.Kind), s.Name}
		if prev, dup := seen[k]; dup {
			d.atPos(s.Pos, s.path, "duplicate %s skill name %q (first at line %d)", s.Kind, s.Name, prev.Pos.Line)
			continue
		}
		seen[k] = s
	}
}
