package guestinit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/voidbox/voidbox/internal/wire"
)

// The command allowlist as the kernel sees it. Every execve/execveat of the
// sandbox user's processes reaches the exec guard (execguard_linux.go),
// which asks execRule whether the program may run and what must be running
// once the exec is done; the guard then checks that too, so a change made
// in between (another thread rewriting the path, a symlink swapped) is
// caught before the new program runs an instruction.
//
// A program is what the exec names, resolved the way the kernel resolves
// it, with /proc/self standing for the caller:
//   - a path (absolute, or relative to the caller's working directory or to
//     execveat's directory) whose last element is listed and whose directory,
//     symlinks resolved, is a trusted directory: wire.AllowedProgram's rule;
//   - a /proc link to an open file (/proc/self/exe, /proc/PID/fd/N, an
//     execveat on a descriptor): allowed when that file is one a listed name
//     resolves to in the trusted directories (same device and inode);
//   - busybox, whichever name or link reaches it, runs the applet its argv
//     names ("busybox cat", or argv[0] "cat" after /proc/self/exe): the
//     applet is what must be listed ("busybox" itself only for busybox's
//     own commands such as --list);
//   - a script ("#!"): its interpreter is checked the same way, with the argv
//     the kernel gives it.

// fileID is a file's identity: what must be running after the exec.
type fileID struct{ dev, ino uint64 }

func idOf(fi os.FileInfo) fileID {
	st := fi.Sys().(*syscall.Stat_t)
	return fileID{dev: uint64(st.Dev), ino: st.Ino}
}

// execRule is the allowlist and where programs may come from.
type execRule struct {
	allowed []string // never nil: the guard exists only with an allowlist
	dirs    []string // trusted directories (wire.CommandDirs)
	busybox string   // the multi-call binary ("/bin/busybox"); may not exist
}

// newExecRule is the rule for allowed, trusting CommandDirs and extra (the
// bin/ of read-only skill images, Policy.TrustedDirs).
func newExecRule(allowed, extra []string) *execRule {
	return &execRule{allowed: slices.Clone(allowed), dirs: append(wire.CommandDirs(), extra...), busybox: "/bin/busybox"}
}

// verdict is the rule's answer for one exec.
type verdict struct {
	err     error  // why not, wrapping wire.ErrNotAllowed; nil: allowed
	program string // the program checked (an applet, a name), for reports
	path    string // the path the exec named, as resolved
	want    fileID // what must run once the exec is done
	applet  string // busybox: the applet it must run ("" otherwise)
}

// execCall is one exec as the guard read it from the caller.
type execCall struct {
	pid, tid int    // caller (thread group, thread)
	dirfd    int    // execveat's directory, or atFDCWD
	path     string // as passed; "" with emptyPath
	argv     []string
	empty    bool // execveat AT_EMPTY_PATH: the descriptor itself
}

const atFDCWD = -100

// maxScriptDepth is the kernel's limit on interpreters of interpreters
// (fs/exec.c, 5 binprm rounds).
const maxScriptDepth = 4

// check decides one exec.
func (r *execRule) check(c execCall) verdict {
	if c.empty {
		link := fmt.Sprintf("/proc/%d/fd/%d", c.pid, c.dirfd)
		return r.program(link, "", true, c.argv, c, 0)
	}
	p, err := r.absolute(c)
	if err != nil {
		return verdict{err: refuse("%s: %v", c.path, err), program: path.Base(c.path), path: c.path}
	}
	dir, base := path.Split(p)
	rdir, err := r.resolveDir(c, dir)
	if err != nil {
		return verdict{err: refuse("%s: %v", p, err), program: base, path: p}
	}
	full := path.Join(rdir, base)
	switch {
	case r.trusted(rdir):
		return r.program(full, base, false, c.argv, c, 0)
	case isProcLink(rdir):
		return r.program(full, "", true, c.argv, c, 0)
	}
	return verdict{err: refuse("%s is outside the trusted directories (%s)", p, strings.Join(r.dirs, ", ")),
		program: base, path: p}
}

// program checks the file at full (resolved but for its last element),
// reached by name (listed name) or through a /proc link (byID).
func (r *execRule) program(full, name string, byID bool, argv []string, c execCall, depth int) verdict {
	v := verdict{program: name, path: full}
	f, err := os.Open(full)
	if err != nil {
		v.err = refuse("%s: %v", full, unwrapPath(err))
		return v
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		v.err = refuse("%s is not a regular file", full)
		return v
	}
	id := idOf(fi)
	// busybox, by whatever name, runs the applet its argv selects: that is
	// the program checked ("busybox sh" is sh; PID 1 executes sh as
	// /bin/busybox, the link resolved).
	bb, isBB := r.busyboxID()
	isBB = isBB && bb == id
	if byID && !isBB {
		names := r.namesOf(id)
		if len(names) == 0 {
			v.err = refuse("%s is not a program allowed_commands lists", full)
			return v
		}
		v.program = names[0]
	} else if !byID && !isBB && !slices.Contains(r.allowed, name) {
		v.err = refuse("%q is not in allowed_commands", name)
		return v
	}
	if isBB {
		applet := appletOf(argv)
		v.program, v.want, v.applet = applet, id, applet
		if applet == "" {
			v.err = refuse("busybox without an applet name")
		} else if !slices.Contains(r.allowed, applet) {
			v.err = refuse("%q (a busybox applet) is not in allowed_commands", applet)
		}
		return v
	}
	interp, arg, ok := shebang(f)
	if !ok {
		v.want = id
		return v
	}
	if depth >= maxScriptDepth {
		v.err = refuse("%s: too many levels of interpreters", full)
		return v
	}
	// The kernel runs: interp [arg] script argv[1:]...
	iargv := []string{interp}
	if arg != "" {
		iargv = append(iargv, arg)
	}
	iargv = append(iargv, full)
	if len(argv) > 1 {
		iargv = append(iargv, argv[1:]...)
	}
	ic := c
	ic.path, ic.argv, ic.dirfd, ic.empty = interp, iargv, atFDCWD, false
	iv := r.interpreter(ic, depth+1)
	if iv.err != nil {
		iv.err = refuse("%s: its interpreter %s: %v", name, interp, iv.err)
		iv.program = v.program + " (" + iv.program + ")"
	}
	return iv
}

// interpreter checks a script's interpreter like any exec.
func (r *execRule) interpreter(c execCall, depth int) verdict {
	p, err := r.absolute(c)
	if err != nil {
		return verdict{err: refuse("%v", err), program: path.Base(c.path)}
	}
	dir, base := path.Split(p)
	rdir, err := r.resolveDir(c, dir)
	if err != nil || !r.trusted(rdir) {
		return verdict{err: refuse("%s is outside the trusted directories", p), program: base, path: p}
	}
	return r.program(path.Join(rdir, base), base, false, c.argv, c, depth)
}

// absolute makes the exec's path absolute: relative paths are relative to
// execveat's directory or the caller's working directory.
func (r *execRule) absolute(c execCall) (string, error) {
	if c.path == "" {
		return "", errors.New("empty path")
	}
	if strings.HasPrefix(c.path, "/") {
		return c.path, nil
	}
	link := fmt.Sprintf("/proc/%d/cwd", c.pid)
	if c.dirfd != atFDCWD {
		link = fmt.Sprintf("/proc/%d/fd/%d", c.pid, c.dirfd)
	}
	base, err := os.Readlink(link)
	if err != nil || !strings.HasPrefix(base, "/") || strings.HasSuffix(base, " (deleted)") {
		return "", fmt.Errorf("relative to a directory that cannot be named (%s)", link)
	}
	return path.Join(base, c.path), nil
}

// maxLinks is the kernel's limit of symlinks followed in one lookup.
const maxLinks = 40

// resolveDir follows the symlinks of dir as the caller would: /proc/self
// and /proc/thread-self are the caller's, not the guard's.
func (r *execRule) resolveDir(c execCall, dir string) (string, error) {
	todo := strings.Split(strings.Trim(dir, "/"), "/")
	cur := "/"
	for links := 0; len(todo) > 0; {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		if cur == "/proc" && name == "self" {
			next = "/proc/" + strconv.Itoa(c.pid)
		} else if cur == "/proc" && name == "thread-self" {
			next = fmt.Sprintf("/proc/%d/task/%d", c.pid, c.tid)
		}
		fi, err := os.Lstat(next)
		if err != nil {
			return "", unwrapPath(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", syscall.ELOOP
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", unwrapPath(err)
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		todo = append(strings.Split(strings.Trim(target, "/"), "/"), todo...)
	}
	return cur, nil
}

// trusted reports whether a resolved directory is a trusted one.
func (r *execRule) trusted(dir string) bool {
	for _, d := range r.dirs {
		if dir == d || dir == resolvedDir(d) {
			return true
		}
	}
	return false
}

func resolvedDir(d string) string {
	if r, err := filepath.EvalSymlinks(d); err == nil {
		return r
	}
	return d
}

// isProcLink: the directory of a /proc link to an open file
// (/proc/PID, /proc/PID/fd, /proc/PID/task/TID, …).
func isProcLink(dir string) bool { return strings.HasPrefix(dir, "/proc/") }

// namesOf lists the allowed names that resolve to id in a trusted directory.
func (r *execRule) namesOf(id fileID) []string {
	var names []string
	for _, n := range r.allowed {
		for _, d := range r.dirs {
			if fi, err := os.Stat(path.Join(d, n)); err == nil && idOf(fi) == id {
				names = append(names, n)
				break
			}
		}
	}
	return names
}

func (r *execRule) busyboxID() (fileID, bool) {
	fi, err := os.Stat(r.busybox)
	if err != nil {
		return fileID{}, false
	}
	return idOf(fi), true
}

// appletOf is the applet busybox runs for argv: argv[0]'s last element, or
// with "busybox" there the next argument's, and so on ("busybox busybox
// cat"); "busybox --list" and the like run busybox itself.
func appletOf(argv []string) string {
	for i := 0; i < len(argv); i++ {
		a := path.Base(argv[i])
		if argv[i] == "" {
			return ""
		}
		if a != "busybox" || i+1 == len(argv) || strings.HasPrefix(argv[i+1], "-") {
			return a
		}
	}
	return ""
}

// shebang reads a script's "#!interpreter [arg]" line as the kernel does
// (fs/binfmt_script.c: the first 256 bytes, one optional argument).
func shebang(f *os.File) (interp, arg string, ok bool) {
	buf := make([]byte, 256)
	n, err := f.ReadAt(buf, 0)
	if n < 2 || (err != nil && err != io.EOF) || !bytes.HasPrefix(buf, []byte("#!")) {
		return "", "", false
	}
	line := buf[2:n]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields := strings.SplitN(strings.Trim(string(line), " \t"), " ", 2)
	if fields[0] == "" {
		return "", "", false
	}
	interp = strings.TrimRight(fields[0], "\t")
	if len(fields) == 2 {
		arg = strings.Trim(fields[1], " \t")
	}
	return interp, arg, true
}

// denial is a refused exec: errors.Is(err, wire.ErrNotAllowed); its text
// is the reason alone.
type denial string

func (d denial) Error() string        { return string(d) }
func (d denial) Is(target error) bool { return target == wire.ErrNotAllowed }

func refuse(format string, args ...any) error { return denial(fmt.Sprintf(format, args...)) }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
