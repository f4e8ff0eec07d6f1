package shell

import (
	"fmt"
	"path/filepath"

	"github.com/voidbox/voidbox/internal/wire"
)

// Policy decides which external commands may run, by the rule the guest
// agent applies to exec requests (wire.AllowedProgram), so a program is
// allowed in a tool call exactly when it would be allowed as a command of
// the box. The zero value and a nil *Policy allow every command.
type Policy struct {
	allowed []string // nil: no allowlist; empty: no command
	trusted []string // directories trusted besides wire.CommandDirs
}

// NewPolicy returns a policy that allows the programs named in allowed.
// nil means no allowlist (every command runs); an empty, non-nil list allows
// no command at all (shell builtins still work). trusted are directories
// trusted besides the system's (wire.AllowedProgram's extra).
func NewPolicy(allowed []string, trusted ...string) (*Policy, error) {
	for _, name := range allowed {
		if err := wire.CheckCommandName(name); err != nil {
			return nil, fmt.Errorf("allowed command: %w", err)
		}
	}
	if allowed != nil {
		allowed = append([]string{}, allowed...)
	}
	return &Policy{allowed: allowed, trusted: append([]string(nil), trusted...)}, nil
}

// Restricted reports whether the policy has an allowlist.
func (p *Policy) Restricted() bool { return p != nil && p.allowed != nil }

// Denial is one command the policy refused.
type Denial struct {
	Command string // the command line as executed, after expansion
	Reason  string
}

// checkName refuses a program name (argv[0]) that is not on the allowlist,
// before it is looked up.
func (p *Policy) checkName(name string) string {
	if !p.Restricted() {
		return ""
	}
	if err := wire.CheckCommandAllowed(p.allowed, name); err != nil {
		return err.Error()
	}
	return ""
}

// program applies the whole rule to a resolved program path and returns the
// path to run (its directory resolved, see wire.AllowedProgram), or why not.
func (p *Policy) program(path string) (string, string) {
	if !p.Restricted() {
		return path, ""
	}
	run, err := wire.AllowedProgram(p.allowed, path, p.trusted...)
	if err != nil {
		return "", err.Error()
	}
	return run, ""
}

// spawned returns the programs an allowed command will itself start, where
// the policy knows how to tell: the program after find's -exec, -execdir,
// -ok and -okdir.
func spawned(args []string) []string {
	if filepath.Base(args[0]) != "find" {
		return nil
	}
	var out []string
	for i := 1; i+1 < len(args); i++ {
		switch args[i] {
		case "-exec", "-execdir", "-ok", "-okdir":
			out = append(out, args[i+1])
		}
	}
	return out
}
