package shell

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultTrustedDirs are the directories an allowed command must live in.
func DefaultTrustedDirs() []string {
	return []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin"}
}

// Policy decides which external commands may run. The zero value allows
// every command.
type Policy struct {
	allowed map[string]bool // nil: no allowlist
	trusted map[string]bool // directories, as given and symlink-resolved
}

// NewPolicy returns a policy that allows the command basenames in allowed,
// found in one of trusted (DefaultTrustedDirs when nil). An empty allowed
// list means no allowlist: every command runs.
func NewPolicy(allowed, trusted []string) (*Policy, error) {
	p := &Policy{}
	if len(allowed) == 0 {
		return p, nil
	}
	p.allowed = make(map[string]bool, len(allowed))
	for _, name := range allowed {
		if name == "" || strings.ContainsRune(name, '/') {
			return nil, fmt.Errorf("allowed command %q: want a bare program name", name)
		}
		p.allowed[name] = true
	}
	if trusted == nil {
		trusted = DefaultTrustedDirs()
	}
	p.trusted = make(map[string]bool, 2*len(trusted))
	for _, d := range trusted {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("trusted directory %q: not absolute", d)
		}
		p.trusted[filepath.Clean(d)] = true
		if r, err := filepath.EvalSymlinks(d); err == nil {
			p.trusted[r] = true
		}
	}
	return p, nil
}

// Restricted reports whether the policy has an allowlist.
func (p *Policy) Restricted() bool { return p != nil && p.allowed != nil }

// Denial is one command the policy refused.
type Denial struct {
	Command string // the command line as executed, after expansion
	Reason  string
}

// checkName refuses a program name (argv[0]) that is not on the allowlist.
func (p *Policy) checkName(name string) string {
	if !p.Restricted() {
		return ""
	}
	if base := filepath.Base(name); !p.allowed[base] {
		return fmt.Sprintf("%q is not in allowed_commands", base)
	}
	return ""
}

// checkPath refuses a resolved program path outside the trusted directories.
func (p *Policy) checkPath(path string) string {
	if !p.Restricted() {
		return ""
	}
	dir := filepath.Dir(filepath.Clean(path))
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if !p.trusted[dir] {
		return fmt.Sprintf("%s is outside the trusted directories (%s)", path, strings.Join(p.trustedList(), ", "))
	}
	return ""
}

func (p *Policy) trustedList() []string {
	out := make([]string, 0, len(p.trusted))
	for d := range p.trusted {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
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
