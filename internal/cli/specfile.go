package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/voidbox/voidbox/internal/runspec"
	"github.com/voidbox/voidbox/internal/spec"
)

// loadSpec parses and builds a spec file; run, validate and inspect all read
// their --file through it. Every problem is a usage error (exit 2): a file
// that cannot be read (missing, a directory) is as much a bad argument as one
// that does not parse, whose problems are printed one per line with their
// file:line:col. Notices (seed fields with another meaning here) go to
// stderr.
//
// checkOnly (validate, inspect) lets host variables that env copies (`KEY:
// ""`) be missing, with a note: they are the running host's business, and a
// spec is valid without them (the seed's examples copy GITHUB_TOKEN).
func loadSpec(e *env, path string, checkOnly bool) (*spec.Spec, runspec.Job, error) {
	if path == "" {
		return nil, nil, usageError{errors.New("--file is required")}
	}
	s, err := spec.ParseFileWith(path, spec.ParseOptions{CheckOnly: checkOnly})
	if err != nil {
		return nil, nil, usageError{err}
	}
	// Fields voidbox accepts with another meaning (seed specs) are said once,
	// on stderr, before anything runs.
	for _, n := range s.Notices {
		fmt.Fprintf(e.stderr, "voidbox: note: %s\n", n)
	}
	lookup := os.LookupEnv
	if checkOnly {
		noted := map[string]bool{}
		lookup = func(k string) (string, bool) {
			v, ok := os.LookupEnv(k)
			if !ok && !noted[k] {
				noted[k] = true
				fmt.Fprintf(e.stderr, "voidbox: note: %s is not set on this host; the spec copies it into the VM (env %s: \"\"), so run needs it\n", k, k)
			}
			return v, true
		}
	}
	if checkOnly && s.Kind == spec.KindSandbox {
		// A VM with no stage: there is nothing to plan, only to check.
		return s, nil, nil
	}
	job, err := runspec.Build(s, lookup)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if _, err := job.Plan(); err != nil {
		return nil, nil, usageError{err}
	}
	return s, job, nil
}

// readInput resolves --input: literal text, or @file for a file's content
// ("@-" reads stdin).
func readInput(e *env, v string) ([]byte, error) {
	switch {
	case v == "":
		return nil, nil
	case v == "@-":
		b, err := readAllLimited(e.stdin, 64<<20)
		if err != nil {
			return nil, fmt.Errorf("--input @-: %w", err)
		}
		return b, nil
	case strings.HasPrefix(v, "@"):
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, usageError{fmt.Errorf("--input: %w", err)}
		}
		return b, nil
	}
	return []byte(v), nil
}
