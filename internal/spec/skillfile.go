package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSkillFileSize bounds a SKILL.md file.
const MaxSkillFileSize = 1 << 20

// skillFile reads and checks the SKILL.md at rel (relative to the spec's
// directory). Problems name the file as written in the spec.
func (d *decoder) skillFile(n *yamlNode, p, rel string) (Skill, bool) {
	if d.noHost {
		d.at(n, p, "skill file %s: %s; inline the skill as {name, content}", rel, noHostFiles)
		return Skill{}, false
	}
	abs, data, err := findSkillFile(d.dir, rel)
	if err != nil {
		d.at(n, p, "skill file %s: %v", rel, err)
		return Skill{}, false
	}
	name, desc, content, err := fileSkill(abs, data)
	if err != nil {
		d.at(n, p, "skill file %s: %v", rel, err)
		return Skill{}, false
	}
	return Skill{Kind: SkillFile, Name: name, Description: desc, Path: abs, Content: content}, true
}

// findSkillFile reads a skill file named as in a spec. A relative path is
// looked up in the spec's folder first, then in the working directory: the
// seed implementation's examples name files from their repository's root
// (file:examples/hackernews/skills/x.md) and are run from there. When
// neither holds it, the error names every path tried.
func findSkillFile(specDir, rel string) (string, []byte, error) {
	if filepath.IsAbs(rel) {
		data, err := readSkillFile(rel)
		return rel, data, err
	}
	candidates := []string{filepath.Join(specDir, rel)}
	if wd, err := os.Getwd(); err == nil {
		if c := filepath.Join(wd, rel); c != candidates[0] {
			candidates = append(candidates, c)
		}
	}
	var tried []string
	for _, c := range candidates {
		data, err := readSkillFile(c)
		if err == nil {
			return c, data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			if c != candidates[0] {
				err = fmt.Errorf("%s: %w", c, err)
			}
			return c, nil, err // there, but unusable: say so, look no further
		}
		tried = append(tried, c)
	}
	return "", nil, fmt.Errorf("not found (looked in %s)", strings.Join(tried, " and "))
}

// readSkillFile reads a regular file of bounded size. The type is checked
// before opening so that a FIFO or device cannot block or stream, and only
// the size stat reported is read, so that a pseudo-file (size 0, as in
// /proc) cannot either.
func readSkillFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > MaxSkillFileSize {
		return nil, fmt.Errorf("larger than the %d KiB limit", MaxSkillFileSize>>10)
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, fi.Size()))
	if err != nil {
		return nil, unwrapPath(err)
	}
	return data, nil
}

// unwrapPath drops the operation and path from an *fs.PathError: the caller
// names the file as the user wrote it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseSkillFrontMatter returns the name and description of a SKILL.md's
// front matter, checked as for a file skill (an OCI skill's SKILL.md,
// read from its image, is held to the same rules).
func ParseSkillFrontMatter(data []byte) (name, desc string, err error) { return frontMatter(data) }

// frontMatter extracts name and description from the YAML block between
// the leading "---" line and the next "---" (or "...") line.
func frontMatter(data []byte) (name, desc string, err error) {
	text := strings.ReplaceAll(string(bytes.TrimPrefix(data, utf8BOM)), "\r\n", "\n")
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return "", "", errors.New(`no YAML front matter: the file must start with a "---" line`)
	}
	end := -1
	for off := 0; off < len(rest); {
		line, _, _ := strings.Cut(rest[off:], "\n")
		if t := strings.TrimRight(line, " \t"); t == "---" || t == "..." {
			end = off
			break
		}
		off += len(line) + 1
	}
	if end < 0 {
		return "", "", errors.New(`front matter is not closed by a "---" line`)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(rest[:end]), &doc); err != nil {
		line, msg := yamlSyntaxLine(err.Error())
		if line > 0 {
			msg = fmt.Sprintf("line %d: %s", line+1, msg) // front matter starts on line 2
		}
		return "", "", fmt.Errorf("front matter: invalid YAML: %s", msg)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", "", errors.New("front matter: want a mapping with name and description")
	}
	m := doc.Content[0]
	get := func(key string) (string, error) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k, v := m.Content[i], m.Content[i+1]; k.Value == key {
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" || strings.TrimSpace(v.Value) == "" {
					return "", fmt.Errorf("front matter: line %d: %s must be a non-empty string", v.Line+1, key)
				}
				return v.Value, nil
			}
		}
		return "", fmt.Errorf("front matter: missing %q", key)
	}
	if name, err = get("name"); err != nil {
		return "", "", err
	}
	if err := checkSkillName(name); err != nil {
		return "", "", fmt.Errorf("front matter: %w", err)
	}
	if desc, err = get("description"); err != nil {
		return "", "", err
	}
	return name, desc, nil
}

// ReadSkillFile reads and checks a SKILL.md file at an absolute or
// working-directory-relative path, for callers outside a spec (the Go API).
func ReadSkillFile(path string) (Skill, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Skill{}, err
	}
	data, err := readSkillFile(abs)
	if err != nil {
		return Skill{}, fmt.Errorf("skill file %s: %w", path, err)
	}
	name, desc, content, err := fileSkill(abs, data)
	if err != nil {
		return Skill{}, fmt.Errorf("skill file %s: %w", path, err)
	}
	return Skill{Kind: SkillFile, Name: name, Description: desc, Path: abs, Content: content}, nil
}

// fileSkill returns the name, description and content of a skill file.
// With front matter they are its own. Without it the skill is named by the
// file, as the seed does (github-pr.md is skill github-pr), described by its
// first Markdown heading, and given the front matter agents look for (Claude
// Code reads a skill's name and description from it), so the guest sees the
// same SKILL.md either way. A file that starts a front matter block is held
// to it: a broken one is an error, not a file without one.
func fileSkill(path string, data []byte) (name, desc, content string, err error) {
	text := strings.ReplaceAll(string(bytes.TrimPrefix(data, utf8BOM)), "\r\n", "\n")
	if strings.HasPrefix(text, "---\n") || strings.TrimRight(text, " \t\n") == "---" {
		name, desc, err = frontMatter(data)
		return name, desc, string(data), err
	}
	name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if err := checkSkillName(name); err != nil {
		return "", "", "", fmt.Errorf("no YAML front matter, and the file name cannot name the skill: %w", err)
	}
	desc = name
	for _, line := range strings.Split(text, "\n") {
		if h, ok := strings.CutPrefix(line, "# "); ok && strings.TrimSpace(h) != "" {
			desc = strings.TrimSpace(h)
			break
		}
	}
	fm, err := yaml.Marshal(map[string]string{"name": name, "description": desc})
	if err != nil {
		return "", "", "", err
	}
	return name, desc, "---\n" + string(fm) + "---\n" + text, nil
}

// SkillMarkdown checks a SKILL.md's content (size, front matter) and returns
// its name and description: the rule file: skills follow, for skills that
// come from elsewhere (remote:).
func SkillMarkdown(data []byte) (name, desc string, err error) {
	if len(data) > MaxSkillFileSize {
		return "", "", fmt.Errorf("larger than the %d KiB limit", MaxSkillFileSize>>10)
	}
	return frontMatter(data)
}
