package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// The command allowlist rule. The guest init applies it to every exec
// request and the built-in agent's shell to every command a tool runs, so
// both allow and refuse the same programs.
//
// An allowlist is a list of program names. nil means no allowlist (every
// program may run); an empty, non-nil list allows no program. A program is
// allowed when both hold:
//   - the last element of its path, as found on PATH and not resolved
//     through symlinks (busybox applets are links to one binary), is listed;
//   - the directory it was found in, resolved through symlinks, is one of
//     CommandDirs;
//   - the file it names, resolved through symlinks, and every directory
//     above that file, are owned by root and writable by no one else (no
//     write bit for others, nor for a group other than root's).
//
// The last condition is what makes a program found in a trusted directory
// the image's, never a copy the sandbox user wrote under the same name: in
// voidbox's initramfs those directories are root's by construction, but an
// OCI image may hand one (or a program, or a directory above it) to uid
// 1000, and its writable layer would then let the sandbox user replace
// it. The program run is the resolved file, so what runs is what was
// checked: no symlink on the way is followed again.
//
// Entries are names, not paths: "sh" allows /bin/sh and /usr/bin/sh alike.
// A path entry could only add programs outside CommandDirs, which the
// sandbox user may have written, so there is nothing sound to express.

// CommandNamePattern is the regular expression (RE2 syntax, as in the JSON
// Schema) an allowlist entry matches; "." and ".." are refused besides.
const CommandNamePattern = `^[^/\s\x00]+$`

// CommandDirs returns the directories an allowlisted program must be in.
func CommandDirs() []string {
	return []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}
}

// CheckCommandName reports why name cannot be an allowlist entry, or nil.
func CheckCommandName(name string) error {
	bad := name == "" || name == "." || name == ".."
	for _, r := range name {
		if r == '/' || r == 0 || unicode.IsSpace(r) {
			bad = true
		}
	}
	if !bad {
		return nil
	}
	if base := filepath.Base(name); strings.HasPrefix(name, "/") && CheckCommandName(base) == nil {
		return fmt.Errorf("%q is not a command name: list the name (%s), not a path: "+
			"the guest finds it in the system directories", name, base)
	}
	return fmt.Errorf("%q is not a command name: want a program name such as sh, without \"/\" or spaces", name)
}

// ErrNotAllowed marks a program the allowlist refuses (errors.Is); the
// error's text says why, without this prefix.
var ErrNotAllowed = errors.New("not allowed by the command allowlist")

type notAllowed string

func refuse(format string, args ...any) error { return notAllowed(fmt.Sprintf(format, args...)) }

func (e notAllowed) Error() string        { return string(e) }
func (e notAllowed) Is(target error) bool { return target == ErrNotAllowed }

// CheckCommandAllowed refuses argv0 by name alone, before it is looked up:
// its last element must be listed. A nil allowlist allows every name.
func CheckCommandAllowed(allowed []string, argv0 string) error {
	if allowed == nil {
		return nil
	}
	if base := filepath.Base(argv0); !slices.Contains(allowed, base) {
		return refuse("%q is not in allowed_commands", base)
	}
	return nil
}

// AllowedProgram applies the whole rule to path, the program argv[0]
// resolved to (absolute, as a shell found it), and returns the path to
// execute: path resolved through every symlink. Executing that, not path,
// makes what runs what was checked, even if a symlink on the way changes in
// between. A nil allowlist allows every program and returns path
// unchanged. extra are trusted directories besides CommandDirs: the bin/
// of OCI skill images, which the guest mounted read-only (Policy.TrustedDirs).
func AllowedProgram(allowed []string, path string, extra ...string) (string, error) {
	if allowed == nil {
		return path, nil
	}
	if err := CheckCommandAllowed(allowed, path); err != nil {
		return "", err
	}
	i := strings.LastIndexByte(path, '/')
	if !filepath.IsAbs(path) || i < 0 {
		return "", refuse("%s is not an absolute path", path)
	}
	// The directory as the kernel walks it: symlinks first, then "..",
	// which a lexical Clean would get wrong ("/usr/bin/link/../x").
	dir, err := filepath.EvalSymlinks(path[:i] + "/")
	trusted := false
	dirs := append(CommandDirs(), extra...)
	if err == nil {
		for _, d := range dirs {
			if dir == d || dir == resolve(d) {
				trusted = true
			}
		}
	}
	if !trusted {
		return "", refuse("%s is outside the trusted directories (%s)", path, strings.Join(dirs, ", "))
	}
	target, err := filepath.EvalSymlinks(filepath.Join(dir, path[i+1:]))
	if err != nil {
		return "", refuse("%s: %v", path, err)
	}
	if err := rootOnly(target); err != nil {
		return "", refuse("%s: %v", path, err)
	}
	return target, nil
}

// rootOnly checks that p and every directory above it are owned by root
// and writable by no one else.
func rootOnly(p string) error {
	for q := p; ; q = filepath.Dir(q) {
		fi, err := os.Lstat(q)
		if err != nil {
			return err
		}
		if err := checkRootOnly(q, fi); err != nil {
			return err
		}
		if q == "/" {
			return nil
		}
	}
}

// checkRootOnly is rootOnly's test of one file.
func checkRootOnly(p string, fi fs.FileInfo) error {
	uid, gid, ok := owner(fi)
	if !ok {
		return fmt.Errorf("cannot tell who owns %s", p)
	}
	perm := fi.Mode().Perm()
	if uid != 0 || perm&0o002 != 0 || (perm&0o020 != 0 && gid != 0) {
		return fmt.Errorf("%s (%v, uid %d, gid %d) is not root's alone, so the sandbox user may have changed it", p, fi.Mode(), uid, gid)
	}
	return nil
}

// resolve follows the symlinks of a trusted directory; one that does not
// exist is taken as written (nothing can be found in it anyway).
func resolve(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return r
	}
	return dir
}
