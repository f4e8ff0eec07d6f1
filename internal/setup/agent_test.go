package setup

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func TestFindGuestAgentFromEnv(t *testing.T) {
	dir := t.TempDir()
	static := buildProgram(t, dir, helloMain, true)
	s := agentSearch{getenv: func(k string) string {
		if k == "VOIDBOX_GUEST_AGENT" {
			return static
		}
		return ""
	}}
	if p, err := findGuestAgent(context.Background(), s); err != nil || p != static {
		t.Errorf("from env: %s, %v", p, err)
	}
	for name, bad := range map[string]string{
		"missing": filepath.Join(dir, "absent"),
		"script":  writeScript(t, dir),
	} {
		s.getenv = func(string) string { return bad }
		if _, err := findGuestAgent(context.Background(), s); err == nil || !strings.Contains(err.Error(), "VOIDBOX_GUEST_AGENT") {
			t.Errorf("%s agent: %v", name, err)
		}
	}
}

func writeScript(t *testing.T, dir string) string {
	p := filepath.Join(dir, "script-agent")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindGuestAgentRejectsDynamic(t *testing.T) {
	// A cgo-enabled build that uses the resolver links libc dynamically.
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is needed to build a dynamically linked test binary: %v", err)
	}
	dynamic := buildProgram(t, t.TempDir(), "package main\n\nimport (\"net\"; \"os/user\")\n\nfunc main() { net.LookupHost(\"x\"); user.Current() }\n", false)
	f, err := elf.Open(dynamic)
	if err != nil {
		t.Fatal(err)
	}
	interp := false
	for _, p := range f.Progs {
		interp = interp || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !interp {
		t.Fatal("test binary came out static; cannot test the dynamic case")
	}
	_, err = checkedAgent(dynamic, "test")
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("dynamic agent: %v", err)
	}
}

func TestFindGuestAgentNextToExecutable(t *testing.T) {
	dir := t.TempDir()
	static := buildProgram(t, dir, helloMain, true)
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.Rename(static, filepath.Join(bin, agentName)); err != nil {
		t.Fatal(err)
	}
	s := agentSearch{getenv: noEnv, exe: filepath.Join(bin, "voidbox"), wd: t.TempDir()}
	if p, err := findGuestAgent(context.Background(), s); err != nil || p != filepath.Join(bin, agentName) {
		t.Errorf("next to executable: %s, %v", p, err)
	}
}

func TestFindGuestAgentBuildsFromSource(t *testing.T) {
	// A stand-in source tree: the voidbox module path with a tiny cmd/voidbox-guest.
	tree := t.TempDir()
	writeFile(t, filepath.Join(tree, "go.mod"), "module "+modulePath+"\n\ngo 1.22\n")
	writeFile(t, filepath.Join(tree, agentPkgDir, "main.go"), helloMain)
	wd := filepath.Join(tree, "internal", "deep")
	os.MkdirAll(wd, 0o755)
	cache := t.TempDir()
	t.Setenv("GOFLAGS", "-mod=mod")
	s := agentSearch{getenv: noEnv, exe: filepath.Join(t.TempDir(), "voidbox.test"), wd: wd, cacheDir: cache}
	p, err := findGuestAgent(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(cache, "agent", agentName) {
		t.Errorf("built into %s", p)
	}
	out, err := exec.Command(p).Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello from the guest" {
		t.Errorf("built agent ran: %q, %v", out, err)
	}
	// Building again replaces the binary atomically and still works.
	if p2, err := findGuestAgent(context.Background(), s); err != nil || p2 != p {
		t.Errorf("second build: %s, %v", p2, err)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "agent", "*.tmp")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestFindGuestAgentNowhere(t *testing.T) {
	// A go.mod of another module does not count as the source tree.
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "go.mod"), "module example.com/other\n")
	s := agentSearch{getenv: noEnv, exe: filepath.Join(t.TempDir(), "voidbox"), wd: other}
	_, err := findGuestAgent(context.Background(), s)
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "VOIDBOX_GUEST_AGENT") {
		t.Errorf("no agent anywhere: %v", err)
	}
}
