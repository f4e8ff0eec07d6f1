package main_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestKilledMidPipelineE2E: `voidbox run` killed with SIGKILL while two
// stages of a fan-out run (two QEMUs, confined under their own uids where
// the host allows) leaves no process behind (the parent-death signal holds
// across the uid change); only files remain, and the next `voidbox run`
// sweeps the dead run's runtime directories and cgroups.
func TestKilledMidPipelineE2E(t *testing.T) {
	vmtest.Setup(t)
	rt, dir := t.TempDir(), t.TempDir()
	spec := filepath.Join(dir, "long.yaml")
	os.WriteFile(spec, []byte(`api_version: v1
kind: pipeline
name: long
sandbox: {memory_mb: 256}
pipeline:
  boxes:
    - {name: a, exec: [sh, -c, "echo ready-$VOIDBOX_STAGE; sleep 300"]}
    - {name: b, exec: [sh, -c, "echo ready-$VOIDBOX_STAGE; sleep 300"]}
    - {name: c, exec: [echo, never]}
  stages:
    - fan_out: [a, b]
    - box: c
`), 0o644)
	events := filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, "run", "--file", spec, "--events", events, "--progress", "plain")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	var log bytes.Buffer // read once the process is gone
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	victim := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	// Both stages are mid-command once their output is in the event log.
	for began := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(events)
		if bytes.Contains(b, []byte("ready-a")) && bytes.Contains(b, []byte("ready-b")) {
			break
		}
		select {
		case err := <-waited:
			t.Fatalf("voidbox ended before both stages ran: %v\n%s", err, log.String())
		default:
		}
		if time.Since(began) > 4*time.Minute {
			cmd.Process.Kill()
			<-waited
			t.Fatalf("the stages never started:\n%s", log.String())
		}
	}
	qemu := qemuPIDs(t, rt)
	if len(qemu) != 2 {
		t.Fatalf("want a qemu per running stage, found %v", qemu)
	}
	uids := map[int]int{}
	for _, pid := range qemu {
		uids[pid] = uidOf(pid)
	}
	t.Logf("qemu %v run as uids %v; voidbox is %d", qemu, uids, victim)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-waited
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := processesOf(rt)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the killed run are still there: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	dirs, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*"))
	groups := cgroupsOf(victim)
	t.Logf("left by the killed run: %d runtime dirs, cgroups %v", len(dirs), groups)
	if len(dirs) != 2 {
		t.Fatalf("want the killed run's two runtime dirs until the next run, got %v", dirs)
	}

	next := filepath.Join(dir, "short.yaml")
	os.WriteFile(next, []byte("api_version: v1\nkind: pipeline\nname: short\nsandbox: {memory_mb: 256}\n"+
		"pipeline:\n  boxes:\n    - {name: only, exec: [echo, fine]}\n  stages:\n    - box: only\n"), 0o644)
	if r := voidboxIn(t, rt, "run", "--file", next); r.code != 0 || !strings.Contains(r.stdout, "fine") {
		t.Fatalf("next run: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) != 0 {
		t.Errorf("the next run did not sweep the dead run's runtime dirs: %v", left)
	}
	if left := cgroupsOf(victim); len(left) != 0 {
		t.Errorf("the next run did not sweep the dead run's cgroups: %v", left)
	}
	if left := processesOf(rt); len(left) != 0 {
		t.Errorf("processes left after the next run: %v", left)
	}
}

// processesOf lists the processes started for runtime dir rt: voidbox
// hands its environment (XDG_RUNTIME_DIR) to every helper it starts.
func processesOf(rt string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(append([]byte{0}, env...), []byte("\x00XDG_RUNTIME_DIR="+rt+"\x00")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
		out = append(out, filepath.Base(filepath.Dir(p))+" "+strings.ReplaceAll(string(bytes.TrimRight(cmdline, "\x00")), "\x00", " "))
	}
	return out
}

// cgroupsOf lists the jail cgroups that voidbox process pid made
// (voidbox-PID-…, internal/confine), in any hierarchy.
func cgroupsOf(pid int) []string {
	var out []string
	prefix := fmt.Sprintf("voidbox-%d-", pid)
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), prefix) {
			out = append(out, p)
			return filepath.SkipDir
		}
		if strings.Count(p, "/") > 8 {
			return filepath.SkipDir
		}
		return nil
	})
	return out
}

// uidOf is a process's real uid (/proc/PID/status), -1 if unknown.
func uidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			var uid int
			fmt.Sscanf(rest, "%d", &uid)
			return uid
		}
	}
	return -1
}
