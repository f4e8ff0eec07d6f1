package claudecode

import (
	"fmt"
	"path"
	"regexp"
)

// skillName is the spec's rule for skill names (internal/spec): they
// become one directory name.
var skillName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// SkillDir returns the guest directory of a user skill: claude-code loads
// <home>/.claude/skills/<name>/SKILL.md and names the skill after the
// directory, whatever the front matter's name says (checked on the real
// binary: the skill appears in the init line's skills and in the model's
// skill list). home "" means GuestHome. The directory and the .claude
// directories above it must be readable by uid 1000.
func SkillDir(home, name string) (string, error) {
	if !skillName.MatchString(name) {
		return "", fmt.Errorf("%w: skill name %q: want letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)", ErrInvalid, name)
	}
	if home == "" {
		home = GuestHome
	}
	return path.Join(home, ".claude", "skills", name), nil
}

// SkillPath returns the guest path of a user skill's SKILL.md.
func SkillPath(home, name string) (string, error) {
	dir, err := SkillDir(home, name)
	if err != nil {
		return "", err
	}
	return path.Join(dir, "SKILL.md"), nil
}
