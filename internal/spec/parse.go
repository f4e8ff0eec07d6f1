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
)

// MaxSize is the largest spec Parse accepts, in bytes. Larger input is
// rejected before any parsing.
const MaxSize = 1 << 20

// ParseFile reads and parses the spec at path. Relative paths inside the spec
// (skill files, kernel, initramfs) resolve against the file's directory.
// Problems in the spec come back as *Error values (see Parse); failing to read
// the file (missing, a directory, no permission) is an ordinary wrapped error
// that names path once: "reading spec x.yaml: no such file or directory".
func ParseFile(path string) (*Spec, error) { return ParseFileWith(path, ParseOptions{}) }

// ParseFileWith is ParseFile with options.
func ParseFileWith(path string, o ParseOptions) (*Spec, error) {
	unreadable := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in our message
		}
		return fmt.Errorf("reading spec %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unreadable(err)
	}
	defer f.Close()
	// Read one byte past the limit so that Parse can tell "too large" apart
	// from "exactly at the limit" without reading an unbounded stream.
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, unreadable(err)
	}
	return ParseWith(path, data, o)
}

// ParseOptions tune ParseWith.
type ParseOptions struct {
	// NoHost is for specs from someone other than the parsing host's user
	// (a daemon's clients): host files (skill files, kernel, initramfs) and
	// environment copies (env values of "") are problems instead of being
	// read, so the spec cannot read or probe the host through its fields.
	NoHost bool
	// CheckOnly is for a check of the spec (voidbox validate, inspect)
	// rather than a run: a host mount directory that does not exist yet is a
	// notice (the run needs it) instead of a problem, as a spec may be
	// checked before the directory it names is made.
	CheckOnly bool
}

// noHostFiles is the problem of a host path under ParseOptions.NoHost.
const noHostFiles = "a spec sent to a daemon cannot name files on its host"

// Parse parses and validates one spec. name is used in error positions and
// decides the syntax: ".yaml"/".yml" is YAML, ".json" is JSON, and anything
// else is JSON when the first non-blank byte is '{' and YAML otherwise.
// Relative paths inside the spec resolve against name's directory.
//
// Every problem found is reported at once: the error is an errors.Join of
// *Error values, one line each, and matches ErrInvalid.
func Parse(name string, data []byte) (*Spec, error) {
	return ParseWith(name, data, ParseOptions{})
}

// ParseWith is Parse with options.
func ParseWith(name string, data []byte, o ParseOptions) (*Spec, error) {
	if name == "" {
		name = "spec"
	}
	probs := &problems{file: name}
	if len(data) > MaxSize {
		probs.add(0, 0, "", fmt.Sprintf("spec is larger than the %d KiB limit", MaxSize>>10))
		return nil, probs.err()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		probs.add(0, 0, "", "empty spec: want a mapping with api_version, kind and name")
		return nil, probs.err()
	}
	root := parseTree(name, data, probs)
	if root == nil {
		return nil, probs.err()
	}
	d := newDecoder(name, specDir(name), probs)
	d.noHost = o.NoHost
	d.checkOnly = o.CheckOnly
	s := d.spec(root)
	if err := probs.err(); err != nil {
		return nil, err
	}
	s.Notices = d.notices
	return s, nil
}

// parseTree turns the bytes into a node tree, reporting syntax errors. It
// returns the top-level value, or nil after reporting why there is none.
func parseTree(name string, data []byte, probs *problems) *yamlNode {
	if isJSON(name, data) {
		return parseJSON(data, probs)
	}
	return parseYAML(data, probs)
}

// isJSON decides the syntax of a spec from its name and, for names that do
// not say, from its first byte.
func isJSON(name string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return false
	case ".json":
		return true
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

var utf8BOM = []byte("\ufeff")

// specDir returns the absolute directory relative paths in the spec named
// name resolve against.
func specDir(name string) string {
	dir := filepath.Dir(name)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
