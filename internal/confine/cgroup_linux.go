package confine

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A jail's cgroup. With cgroup v2 (memory and pids controllers available
// in the unified hierarchy) every jail is a child of one "voidbox" group at
// the top of the hierarchy, like a service's, and the process is born in it
// (clone3 CLONE_INTO_CGROUP). With cgroup v1 (as on hosts that keep the
// legacy controllers, the machines CI runs on among them) a jail is a child
// of voidbox's own cgroup in each of the memory, pids and cpu hierarchies,
// so it stays inside whatever limits voidbox itself is under; v1 cannot
// start a process in a cgroup, so it is moved there right after exec.
//
// Names are "voidbox-<owner pid>-<seq>-<name>", so a later voidbox process
// can remove the empty groups of one that was killed (sweep).

// v1Controllers are the legacy hierarchies a v1 jail uses.
var v1Controllers = []string{"memory", "pids", "cpu"}

// cgroupHost is where jails' cgroups go on this host.
type cgroupHost struct {
	v2     string            // the unified hierarchy's "voidbox" parent; "" for v1
	v1     map[string]string // controller -> voidbox's own cgroup dir in it
	reason string            // why there are no jail cgroups ("" when usable)
}

func (c cgroupHost) usable() bool { return c.reason == "" && (c.v2 != "" || len(c.v1) > 0) }

func (c cgroupHost) describe() string {
	if c.v2 != "" {
		return c.v2 + " (v2)"
	}
	var names []string
	for _, k := range v1Controllers {
		if _, ok := c.v1[k]; ok {
			names = append(names, k)
		}
	}
	return "under voidbox's own cgroup (v1: " + strings.Join(names, ", ") + ")"
}

// probeCgroups reads the mount table and this process's cgroups.
func probeCgroups(mountinfo, selfCgroup string) cgroupHost {
	mounts, err := readCgroupMounts(mountinfo)
	if err != nil {
		return cgroupHost{reason: "reading mounts: " + err.Error()}
	}
	var v2why string
	for _, m := range mounts {
		if m.fstype != "cgroup2" {
			continue
		}
		ctrl, _ := os.ReadFile(filepath.Join(m.dir, "cgroup.controllers"))
		have := strings.Fields(string(ctrl))
		if slices.Contains(have, "memory") && slices.Contains(have, "pids") {
			return cgroupHost{v2: filepath.Join(m.dir, "voidbox")}
		}
		v2why = fmt.Sprintf("cgroup v2 at %s has no memory and pids controllers", m.dir)
	}
	own, err := readOwnCgroups(selfCgroup)
	if err != nil {
		return cgroupHost{reason: "reading /proc/self/cgroup: " + err.Error()}
	}
	v1 := map[string]string{}
	for _, m := range mounts {
		if m.fstype != "cgroup" {
			continue
		}
		for _, ctrl := range v1Controllers {
			path, ok := own[ctrl]
			if !slices.Contains(m.options, ctrl) || !ok {
				continue
			}
			rel, ok := strings.CutPrefix(path, m.root)
			if !ok {
				continue // our cgroup is outside what this mount shows
			}
			v1[ctrl] = filepath.Join(m.dir, rel)
		}
	}
	if _, ok := v1["memory"]; !ok {
		if v2why == "" {
			v2why = "no cgroup v2 hierarchy"
		}
		return cgroupHost{reason: v2why + " and no cgroup v1 memory hierarchy"}
	}
	return cgroupHost{v1: v1}
}

type cgroupMount struct {
	dir, root, fstype string
	options           []string // super options: the v1 controllers
}

// readCgroupMounts parses proc(5) mountinfo lines:
// "id parent major:minor root mountpoint opts [optional...] - fstype source superopts".
func readCgroupMounts(path string) ([]cgroupMount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []cgroupMount
	for line := range bytes.Lines(b) {
		pre, post, ok := strings.Cut(strings.TrimSpace(string(line)), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		out = append(out, cgroupMount{dir: unescapeMount(f[4]), root: unescapeMount(f[3]), fstype: g[0],
			options: strings.Split(g[2], ",")})
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readOwnCgroups maps each v1 controller to this process's cgroup path
// ("4:memory:/a/b" lines of /proc/self/cgroup).
func readOwnCgroups(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, sc.Err()
}

// cgroup is one jail's group: one dir (v2) or one per controller (v1).
type cgroup struct {
	dirs []string
	fd   int // v2: O_PATH of the dir, for CLONE_INTO_CGROUP; -1 for v1
}

// makeCgroup creates a jail's cgroup and writes its limits.
func (c cgroupHost) makeCgroup(name string, l Limits) (_ *cgroup, err error) {
	leaf := leafName(name)
	cg := &cgroup{fd: -1}
	defer func() {
		if err != nil {
			cg.remove()
		}
	}()
	if c.v2 != "" {
		if err := enableV2(c.v2); err != nil {
			return nil, err
		}
		sweep(c.v2)
		dir := filepath.Join(c.v2, leaf)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating cgroup: %w", err)
		}
		cg.dirs = []string{dir}
		if err := writeLimits(dir, v2Files(l)); err != nil {
			return nil, err
		}
		if cg.fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("opening cgroup %s: %w", dir, err)
		}
		return cg, nil
	}
	for _, ctrl := range v1Controllers {
		parent, ok := c.v1[ctrl]
		if !ok {
			continue
		}
		sweep(parent)
		dir := filepath.Join(parent, leaf)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating cgroup: %w", err)
		}
		cg.dirs = append(cg.dirs, dir)
		if err := writeLimits(dir, v1Files(ctrl, l)); err != nil {
			return nil, err
		}
	}
	return cg, nil
}

func leafName(name string) string {
	var r [6]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	return fmt.Sprintf("voidbox-%d-%x-%s", os.Getpid(), r, shortName(name))
}

// limitFile is one control file to write; optional ones may be absent
// (memory.swap.max without swap accounting).
type limitFile struct {
	name, value string
	optional    bool
}

func v2Files(l Limits) []limitFile {
	var fs []limitFile
	if l.MemoryBytes > 0 {
		fs = append(fs, limitFile{"memory.max", strconv.FormatInt(l.MemoryBytes, 10), false},
			limitFile{"memory.swap.max", "0", true})
	}
	if l.Tasks > 0 {
		fs = append(fs, limitFile{"pids.max", strconv.Itoa(l.Tasks), false})
	}
	if l.CPUWeight > 0 {
		fs = append(fs, limitFile{"cpu.weight", strconv.Itoa(l.CPUWeight), true})
	}
	return fs
}

func v1Files(ctrl string, l Limits) []limitFile {
	switch {
	case ctrl == "memory" && l.MemoryBytes > 0:
		v := strconv.FormatInt(l.MemoryBytes, 10)
		// memsw (memory+swap) must not be below the memory limit; the same
		// value forbids swap. Absent without swap accounting.
		return []limitFile{{"memory.limit_in_bytes", v, false}, {"memory.memsw.limit_in_bytes", v, true}}
	case ctrl == "pids" && l.Tasks > 0:
		return []limitFile{{"pids.max", strconv.Itoa(l.Tasks), false}}
	case ctrl == "cpu" && l.CPUWeight > 0:
		return []limitFile{{"cpu.shares", strconv.Itoa(max(2, l.CPUWeight*1024/100)), false}}
	}
	return nil
}

func writeLimits(dir string, files []limitFile) error {
	for _, f := range files {
		err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.value), 0)
		if err != nil && !(f.optional && errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("setting %s of %s: %w", f.name, dir, err)
		}
	}
	return nil
}

// enableV2 creates the voidbox parent and turns the controllers on for its
// children. The top of the hierarchy may take controllers in its subtree
// even with processes in it; the voidbox parent holds none.
func enableV2(parent string) error {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating cgroup %s: %w", parent, err)
	}
	for _, dir := range []string{filepath.Dir(parent), parent} {
		for _, c := range []string{"+memory", "+pids", "+cpu"} {
			err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(c), 0)
			if err != nil && c != "+cpu" { // cpu is optional (realtime tasks can block it)
				return fmt.Errorf("enabling %s in %s: %w", c[1:], dir, err)
			}
		}
	}
	return nil
}

// join moves pid into every v1 cgroup (v2 jails are born in theirs).
func (cg *cgroup) join(pid int) error {
	if cg == nil || cg.fd >= 0 {
		return nil
	}
	for _, d := range cg.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("moving pid %d into %s: %w", pid, d, err)
		}
	}
	return nil
}

// oomKilled reports whether the memory limit's OOM killer killed a task
// of the group (v2 memory.events, v1 memory.oom_control: both "oom_kill N").
func (cg *cgroup) oomKilled() bool {
	if cg == nil {
		return false
	}
	for _, d := range cg.dirs {
		for _, f := range []string{"memory.events", "memory.oom_control"} {
			if n, ok := keyValue(filepath.Join(d, f), "oom_kill"); ok && n > 0 {
				return true
			}
		}
	}
	return false
}

// remove deletes the group once its processes are gone; a task that has
// exited can hold it busy for a moment.
func (cg *cgroup) remove() error {
	if cg == nil {
		return nil
	}
	if cg.fd >= 0 {
		unix.Close(cg.fd)
		cg.fd = -1
	}
	var errs []error
	for _, d := range cg.dirs {
		var err error
		for i := 0; i < 100; i++ {
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			if !errors.Is(err, syscall.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing cgroup: %w", err))
		}
	}
	cg.dirs = nil
	return errors.Join(errs...)
}

// sweep removes the empty groups of voidbox processes that died without
// removing them (SIGKILL); their processes died with them.
func sweep(parent string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		f := strings.SplitN(e.Name(), "-", 4)
		if !e.IsDir() || len(f) < 4 || f[0] != "voidbox" {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.Remove(filepath.Join(parent, e.Name())) // fails if still populated: kept
		}
	}
}

// keyValue reads one "key N" line of a cgroup file.
func keyValue(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(key+" ")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func shortName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 24 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "helper"
	}
	return b.String()
}

// name lists the group's directories.
func (cg *cgroup) name() string { return strings.Join(cg.dirs, ", ") }
