package confine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProbeCgroups(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(root, "cgroup")
	write(t, self, "4:memory:/ci/job1\n8:pids:/\n1:cpu,cpuacct:/\n0::/\n")
	mountinfo := func(lines ...string) string {
		p := filepath.Join(root, "mountinfo")
		write(t, p, strings.Join(lines, "\n")+"\n")
		return p
	}
	unified := filepath.Join(root, "unified")
	write(t, filepath.Join(unified, "cgroup.controllers"), "hugetlb\n")
	v2only := "41 31 0:38 / " + unified + " rw,relatime - cgroup2 cgroup2 rw"
	mem := "35 31 0:32 / " + root + "/memory rw,relatime - cgroup cgroup rw,memory"
	pids := "39 31 0:36 / " + root + "/pids rw,relatime - cgroup cgroup rw,pids"
	cpu := "32 31 0:29 / " + root + "/cpu\\040x rw,relatime - cgroup cgroup rw,cpu,cpuacct"

	// The hybrid layout of our CI machines: v2 without controllers, v1 for them.
	c := probeCgroups(mountinfo(v2only, mem, pids, cpu), self)
	if !c.usable() || c.v2 != "" {
		t.Fatalf("hybrid: %+v", c)
	}
	want := map[string]string{"memory": root + "/memory/ci/job1", "pids": root + "/pids", "cpu": root + "/cpu x"}
	for k, v := range want {
		if c.v1[k] != v {
			t.Errorf("v1[%s] = %q, want %q", k, c.v1[k], v)
		}
	}
	// A unified hierarchy with the controllers wins.
	write(t, filepath.Join(unified, "cgroup.controllers"), "cpuset cpu io memory pids\n")
	if c := probeCgroups(mountinfo(v2only, mem), self); c.v2 != unified+"/voidbox" {
		t.Fatalf("v2: %+v", c)
	}
	// Neither: the reason names both.
	write(t, filepath.Join(unified, "cgroup.controllers"), "hugetlb\n")
	c = probeCgroups(mountinfo(v2only, pids), self)
	if c.usable() || !strings.Contains(c.reason, "no memory and pids controllers") || !strings.Contains(c.reason, "v1 memory") {
		t.Fatalf("none: %+v", c)
	}
}

func TestNotRootKeepsUID(t *testing.T) {
	if os.Geteuid() == 0 {
		h := Host{probed: true, uidReason: "voidbox is not root, so it cannot give QEMU another uid", cgroups: cgroupHost{reason: "x"}}
		if st := h.Status(); st.OwnUID || !strings.Contains(st.Summary(), "not root") {
			t.Fatalf("status %+v", st)
		}
		return
	}
	if st := Probe().Status(); st.OwnUID || !strings.Contains(st.UIDReason, "not root") {
		t.Fatalf("non-root status %+v", st)
	}
}

func TestLeasesAreExclusive(t *testing.T) {
	dir := t.TempDir()
	a, err := leaseUID(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := leaseUID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.uid != UIDBase || b.uid != UIDBase+1 {
		t.Fatalf("leases %d and %d", a.uid, b.uid)
	}
	a.release()
	c, err := leaseUID(dir)
	if err != nil || c.uid != UIDBase {
		t.Fatalf("released uid not reused: %v %v", c, err)
	}
	b.release()
	c.release()
}

func TestSweepRemovesDeadOwnersGroups(t *testing.T) {
	parent := t.TempDir()
	dead := filepath.Join(parent, "voidbox-999999999-ab-vm")
	live := filepath.Join(parent, "voidbox-1-cd-vm")
	other := filepath.Join(parent, "system.slice")
	for _, d := range []string{dead, live, other} {
		os.Mkdir(d, 0o755)
	}
	sweep(parent)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("dead owner's group kept")
	}
	for _, d := range []string{live, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed", d)
		}
	}
}

// TestJailConfinesAHelper starts a real process in a jail on this host:
// its own uid, the jail's cgroup with the limits written, and no stray
// descriptor. It needs root (CI runs as root); as another user it checks
// that nothing is claimed instead.
func TestJailConfinesAHelper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to jail a process (the non-root case is TestNotRootKeepsUID)")
	}
	h := probe(t.TempDir(), "/proc/self")
	j, err := h.New(Spec{Name: "test", Limits: Limits{MemoryBytes: 96 << 20, Tasks: 16, CPUWeight: 50}})
	if err != nil {
		t.Fatal(err)
	}
	st := j.Status()
	if !st.OwnUID || st.UID < UIDBase || st.UID >= UIDBase+UIDCount {
		t.Fatalf("status %+v", st)
	}
	// A descriptor without close-on-exec, as a parent process might leave.
	stray, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(stray)
	cmd := exec.Command("sleep", "30")
	if err := j.Start(cmd); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	status, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	uid := strconv.Itoa(st.UID)
	if !strings.Contains(string(status), "Uid:\t"+uid+"\t"+uid+"\t"+uid+"\t"+uid) ||
		!strings.Contains(string(status), "Gid:\t"+uid+"\t") || groups(string(status)) != "" {
		t.Errorf("helper credentials:\n%s", status)
	}
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if len(fds) != 3 {
		var names []string
		for _, f := range fds {
			l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + f.Name())
			names = append(names, f.Name()+"->"+l)
		}
		t.Errorf("helper inherited %d descriptors, want stdio only: %v", len(fds), names)
	}
	if h.cgroups.usable() {
		t.Logf("cgroup: %s", st.Cgroup)
		cgs, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		leaf := filepath.Base(j.cg.dirs[0])
		if !strings.Contains(string(cgs), leaf) {
			t.Errorf("helper not in %s:\n%s", leaf, cgs)
		}
		for _, d := range j.cg.dirs {
			for _, f := range []string{"memory.max", "memory.limit_in_bytes", "pids.max", "cpu.weight", "cpu.shares"} {
				b, err := os.ReadFile(filepath.Join(d, f))
				if err != nil {
					continue
				}
				want := map[string]string{"memory.max": "100663296", "memory.limit_in_bytes": "100663296",
					"pids.max": "16", "cpu.weight": "50", "cpu.shares": "512"}[f]
				if strings.TrimSpace(string(b)) != want {
					t.Errorf("%s/%s = %s, want %s", d, f, b, want)
				}
			}
		}
	} else {
		t.Logf("no cgroups on this host: %s", st.CgroupReason)
	}
	cmd.Process.Kill()
	cmd.Wait()
	dirs := []string{}
	if j.cg != nil {
		dirs = append(dirs, j.cg.dirs...)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind", d)
		}
	}
	j2, err := h.New(Spec{Name: "again"})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if j2.Status().UID != st.UID {
		t.Errorf("uid %d not given back (next jail got %d)", st.UID, j2.Status().UID)
	}
}

// groups is the Groups line of a /proc/PID/status.
func groups(status string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "Groups:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "missing"
}
