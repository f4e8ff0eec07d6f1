package setup

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func noSource() (moduleSource, error) { return moduleSource{}, errors.New("no source here") }

func TestFindFromEnv(t *testing.T) {
	dir := t.TempDir()
	static := buildProgram(t, dir, helloMain, true)
	s := binarySearch{getenv: func(k string) string {
		if k == "VOIDBOX_GUEST_INIT" {
			return static
		}
		return ""
	}, source: noSource}
	if p, err := find(context.Background(), GuestInit, s); err != nil || p != static {
		t.Errorf("from env: %s, %v", p, err)
	}
	for name, bad := range map[string]string{
		"missing": filepath.Join(dir, "absent"),
		"script":  writeScript(t, dir),
	} {
		s.getenv = func(string) string { return bad }
		if _, err := find(context.Background(), GuestInit, s); err == nil || !strings.Contains(err.Error(), "VOIDBOX_GUEST_INIT") {
			t.Errorf("%s binary: %v", name, err)
		}
	}
}

// TestFindRefusesOldEnv: the variable's old name is neither obeyed nor
// ignored; the error says the new one. With the new name set too, the new
// one wins.
func TestFindRefusesOldEnv(t *testing.T) {
	static := buildProgram(t, t.TempDir(), helloMain, true)
	env := map[string]string{"VOIDBOX_GUEST_AGENT": static}
	s := binarySearch{getenv: func(k string) string { return env[k] }, source: noSource}
	_, err := find(context.Background(), GuestInit, s)
	if err == nil || !strings.Contains(err.Error(), "$VOIDBOX_GUEST_AGENT was renamed VOIDBOX_GUEST_INIT") {
		t.Errorf("old name alone: %v", err)
	}
	env["VOIDBOX_GUEST_INIT"] = static
	if p, err := find(context.Background(), GuestInit, s); err != nil || p != static {
		t.Errorf("both names: %s, %v", p, err)
	}
}

func writeScript(t *testing.T, dir string) string {
	p := filepath.Join(dir, "script-agent")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindRejectsDynamic(t *testing.T) {
	// A cgo-enabled build that uses the resolver links libc dynamically.
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is needed to build a dynamically linked test binary (scripts/lib.sh installs it): %v", err)
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
	_, err = checkedBinary(dynamic, "test")
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("dynamic binary: %v", err)
	}
}

func TestFindNextToExecutable(t *testing.T) {
	dir := t.TempDir()
	static := buildProgram(t, dir, helloMain, true)
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.Rename(static, filepath.Join(bin, GuestInit.Name)); err != nil {
		t.Fatal(err)
	}
	s := binarySearch{getenv: noEnv, exe: filepath.Join(bin, "voidbox"), source: noSource}
	if p, err := find(context.Background(), GuestInit, s); err != nil || p != filepath.Join(bin, GuestInit.Name) {
		t.Errorf("next to executable: %s, %v", p, err)
	}
}

// standInTree is a tiny voidbox module whose guest programs print hello.
func standInTree(t *testing.T) string {
	tree := t.TempDir()
	writeFile(t, filepath.Join(tree, "go.mod"), "module "+modulePath+"\n\ngo 1.22\n")
	writeFile(t, filepath.Join(tree, GuestInit.PkgDir, "main.go"), helloMain)
	writeFile(t, filepath.Join(tree, AgentBinary.PkgDir, "main.go"), helloMain)
	return tree
}

func TestFindBuildsFromSource(t *testing.T) {
	tree := standInTree(t)
	cache := t.TempDir()
	builds := 0
	s := binarySearch{getenv: noEnv, exe: filepath.Join(t.TempDir(), "voidbox"), cacheDir: cache, build: true,
		source: func() (moduleSource, error) { return moduleSource{Dir: tree}, nil },
		goTool: func() (string, error) { builds++; return testGoTool(t), nil }}
	for i := 0; i < 2; i++ {
		p, err := find(context.Background(), GuestInit, s)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(filepath.Dir(p)) != filepath.Join(cache, "bin") || filepath.Base(p) != GuestInit.Name {
			t.Errorf("built into %s", p)
		}
		out, err := exec.Command(p).Output()
		if err != nil || strings.TrimSpace(string(out)) != "hello from the guest" {
			t.Errorf("built binary: %q, %v", out, err)
		}
	}
	// A checkout can change between runs: it is rebuilt each time (go's
	// build cache makes that cheap), so the guest matches the host.
	if builds != 2 {
		t.Errorf("checkout built %d times for 2 finds", builds)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "bin", "*", "*.tmp")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestFindReusesModuleVersionBuild(t *testing.T) {
	tree := standInTree(t)
	cache := t.TempDir()
	builds := 0
	s := binarySearch{getenv: noEnv, cacheDir: cache, build: true,
		source: func() (moduleSource, error) { return moduleSource{Dir: tree, Version: "v1.2.3"}, nil },
		goTool: func() (string, error) { builds++; return testGoTool(t), nil }}
	for i := 0; i < 3; i++ {
		p, err := find(context.Background(), AgentBinary, s)
		if err != nil {
			t.Fatal(err)
		}
		if p != filepath.Join(cache, "bin", "voidbox@v1.2.3", AgentBinary.Name) {
			t.Errorf("built into %s", p)
		}
	}
	if builds != 1 {
		t.Errorf("module version built %d times, want once", builds)
	}
	// Locate reports the build without building.
	s.build = false
	if p, err := find(context.Background(), AgentBinary, s); err != nil || !strings.HasSuffix(p, AgentBinary.Name) {
		t.Errorf("locate after build: %s, %v", p, err)
	}
	if _, err := find(context.Background(), GuestInit, s); !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "voidbox setup") {
		t.Errorf("locate before build: %v", err)
	}
}

func TestFindWithoutGoSaysWhat(t *testing.T) {
	s := binarySearch{getenv: noEnv, cacheDir: t.TempDir(), build: true,
		source: func() (moduleSource, error) { return moduleSource{Dir: standInTree(t)}, nil },
		goTool: func() (string, error) { return "", errors.New("the go command is not on PATH") }}
	_, err := find(context.Background(), GuestInit, s)
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "Go toolchain") || !strings.Contains(err.Error(), "VOIDBOX_GUEST_INIT") {
		t.Errorf("no go: %v", err)
	}
}

func TestFindNothingAnywhere(t *testing.T) {
	s := binarySearch{getenv: noEnv, exe: filepath.Join(t.TempDir(), "voidbox"), cacheDir: t.TempDir(), source: noSource, build: true}
	_, err := find(context.Background(), GuestInit, s)
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "VOIDBOX_GUEST_INIT") || !strings.Contains(err.Error(), "go install") {
		t.Errorf("no binary anywhere: %v", err)
	}
}

func TestFindModuleSource(t *testing.T) {
	checkout := standInTree(t)
	modCache := t.TempDir()
	cached := filepath.Join(modCache, "github.com", "voidbox", "voidbox@v1.4.0")
	for _, f := range []string{"go.mod", GuestInit.PkgDir + "/main.go", AgentBinary.PkgDir + "/main.go"} {
		b, _ := os.ReadFile(filepath.Join(checkout, f))
		writeFile(t, filepath.Join(cached, f), string(b))
	}
	noInfo := func() (*debug.BuildInfo, bool) { return nil, false }
	mc := func() (string, error) { return modCache, nil }
	replaced := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Deps: []*debug.Module{{Path: modulePath, Version: "v0.0.0", Replace: &debug.Module{Path: checkout}}}}, true
	}
	for _, tc := range []struct {
		name string
		l    sourceLookup
		want moduleSource
	}{
		{"checkout", sourceLookup{file: filepath.Join(checkout, thisFile), buildInfo: noInfo}, moduleSource{Dir: checkout}},
		{"module cache", sourceLookup{file: filepath.Join(cached, thisFile), buildInfo: noInfo}, moduleSource{Dir: cached, Version: "v1.4.0"}},
		{"trimpath module cache", sourceLookup{file: modulePath + "@v1.4.0/" + thisFile, modCache: mc, buildInfo: noInfo}, moduleSource{Dir: cached, Version: "v1.4.0"}},
		{"trimpath replace", sourceLookup{file: modulePath + "/" + thisFile, buildInfo: replaced}, moduleSource{Dir: checkout}},
	} {
		got, err := findModuleSource(tc.l)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	for name, l := range map[string]sourceLookup{
		"trimpath devel build": {file: modulePath + "/" + thisFile, buildInfo: noInfo},
		"deleted checkout":     {file: filepath.Join(t.TempDir(), "gone", thisFile), buildInfo: noInfo},
		"no paths":             {buildInfo: noInfo},
	} {
		if _, err := findModuleSource(l); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestFindModuleSourceOfThisBuild: the test binary itself is built from
// this checkout, and finds it.
func TestFindModuleSourceOfThisBuild(t *testing.T) {
	src, err := findModuleSource(realSourceLookup(testGoTool(t)))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Dir(filepath.Dir(wd)); src.Dir != want || src.Version != "" {
		t.Errorf("source %+v, want the checkout %s", src, want)
	}
}
