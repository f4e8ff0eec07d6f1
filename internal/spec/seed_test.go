package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seed implementation's specs carry fields whose meaning differs here;
// each is accepted with a notice, never silently.

func noticeTexts(s *Spec) string {
	var b strings.Builder
	for _, n := range s.Notices {
		b.WriteString(n.Error() + "\n")
	}
	return b.String()
}

func TestSeedGuestImageNotice(t *testing.T) {
	src := "kind: workflow\nname: w\nsandbox:\n  guest_image: \"ghcr.io/x/guest:1\"\nworkflow:\n  steps: [{name: a, run: {program: echo}}]\n"
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := noticeTexts(s); !strings.Contains(got, `t.yaml:4:16: sandbox.guest_image: "ghcr.io/x/guest:1" is not pulled: voidbox boots its own kernel and guest init`) {
		t.Errorf("notices:\n%s", got)
	}
	// The seed's "" (no auto-pull) is what voidbox always does.
	s, err = Parse("t.yaml", []byte(strings.Replace(src, `"ghcr.io/x/guest:1"`, `""`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Notices) != 0 {
		t.Errorf("notices for an empty guest_image:\n%s", noticeTexts(s))
	}
}

func TestSeedInteractiveTakesClaudeCode(t *testing.T) {
	s, err := Parse("t.yaml", []byte("kind: agent\nname: a\nagent:\n  prompt: hi\n  mode: interactive\nllm: {provider: claude-personal}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent.Runtime != RuntimeClaudeCode {
		t.Errorf("runtime %q, want claude-code", s.Agent.Runtime)
	}
	if got := noticeTexts(s); !strings.Contains(got, "t.yaml:5:9: agent.mode: mode interactive: the session is Claude Code's") {
		t.Errorf("notices:\n%s", got)
	}
	// On an image too: the session runs on the image's glibc or the flavour's.
	s, err = Parse("t.yaml", []byte("kind: agent\nname: a\nsandbox: {image: alpine}\nagent:\n  prompt: hi\n  mode: interactive\n"))
	if err != nil || s.Agent.Runtime != RuntimeClaudeCode || s.Agent.Sandbox.Policy.Image != "alpine" {
		t.Errorf("interactive on an image: %v", err)
	}
	wantErrors(t, "t.yaml", "kind: agent\nname: a\nsandbox: {allowed_commands: [ls]}\nagent:\n  prompt: hi\n  mode: interactive\n",
		`t.yaml:6:9: agent.mode: mode interactive runs Claude Code, which cannot enforce sandbox.allowed_commands yet: remove the allowlist`)
}

func TestSeedSkillFileWithoutFrontMatter(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"skills/github-pr.md": "Intro line\n# GitHub Pull Request Workflow\n\nSteps.\n"})
	s, err := ParseFile(writeSpec(t, dir, "kind: agent\nname: a\nagent:\n  prompt: hi\n  skills: [\"file:skills/github-pr.md\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	sk := s.Agent.Skills[0]
	if sk.Name != "github-pr" || sk.Description != "GitHub Pull Request Workflow" {
		t.Errorf("skill %q described %q", sk.Name, sk.Description)
	}
	// The guest gets a SKILL.md with the front matter agents read.
	name, desc, err := ParseSkillFrontMatter([]byte(sk.Content))
	if err != nil || name != "github-pr" || desc != "GitHub Pull Request Workflow" {
		t.Errorf("content's front matter: %q %q %v", name, desc, err)
	}
	if !strings.HasSuffix(sk.Content, "---\nIntro line\n# GitHub Pull Request Workflow\n\nSteps.\n") {
		t.Errorf("content:\n%s", sk.Content)
	}
}

func TestSeedMissingMountIsANoticeOnlyWhenChecking(t *testing.T) {
	dir := t.TempDir()
	path := writeSpec(t, dir, "kind: sandbox\nname: a\nsandbox:\n  mounts: [{host: .data, guest: /data, mode: rw}]\n")
	s, err := ParseFileWith(path, ParseOptions{CheckOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := noticeTexts(s); !strings.Contains(got, "sandbox.mounts[0].host: .data: no such file or directory: a run needs it") {
		t.Errorf("notices:\n%s", got)
	}
	if _, err := ParseFile(path); err == nil || !strings.Contains(err.Error(), ".data: no such file or directory (create it first") {
		t.Errorf("run parse: %v", err)
	}
}

func writeSpec(t *testing.T, dir, src string) string {
	t.Helper()
	p := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
