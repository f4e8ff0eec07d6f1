package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/vmtest"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// These tests install voidbox the way a user does, outside the source tree,
// and use it from a directory that is not a checkout: the guest binaries
// must be found (installed beside voidbox) or built by set-up from the
// voidbox source the running code came from (a checkout, or the module
// cache copy behind `go install …@VERSION` and a library user's go.mod).

const modPath = "github.com/voidbox/voidbox"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// outside runs a command in a fresh directory outside the tree, with env
// added, and returns its combined output.
func outside(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cleanEnv is the environment without the variables that point voidbox at
// binaries, so the search under test does the work.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VOIDBOX_GUEST_INIT=") || strings.HasPrefix(kv, "VOIDBOX_GUEST_AGENT=") || strings.HasPrefix(kv, "VOIDBOX_AGENT_BINARY=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// TestInstalledFromCheckoutE2E: the README's install line, and a plain
// `go install ./cmd/voidbox`, give a voidbox that works from any directory.
func TestInstalledFromCheckoutE2E(t *testing.T) {
	vmtest.Setup(t)
	for name, tc := range map[string]struct {
		pkgs []string
		env  []string
	}{
		// The README's line: all three binaries, static, side by side.
		"go install ./cmd/...": {[]string{"./cmd/..."}, []string{"CGO_ENABLED=0"}},
		// Only the CLI: set-up builds the guest binaries from this checkout.
		"go install ./cmd/voidbox": {[]string{"./cmd/voidbox"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			gobin := t.TempDir()
			install := exec.Command("go", append([]string{"install"}, tc.pkgs...)...)
			install.Dir = repoRoot(t)
			install.Env = append(cleanEnv(), append(tc.env, "GOBIN="+gobin)...)
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("go install: %v\n%s", err, out)
			}
			out, err := outside(t, []string{"XDG_RUNTIME_DIR=" + t.TempDir()},
				filepath.Join(gobin, "voidbox"), "exec", "--", "sh", "-c", "echo installed voidbox works")
			if err != nil || !strings.Contains(out, "installed voidbox works") {
				t.Fatalf("installed voidbox exec: %v\n%s", err, out)
			}
		})
	}
}

// moduleProxy is a file:// Go module proxy serving this tree as a fresh
// pseudo-version of the voidbox module, with every other module served from
// the machine's module download cache: `go install …@VERSION` and a library
// user's `require` work exactly as against a real proxy, offline.
type moduleProxy struct {
	once     sync.Once
	err      error
	dir      string
	version  string
	fallback string // the machine's module download cache as a proxy, then its GOPROXY
	modCache string // the machine's module cache
}

var proxy moduleProxy

func (p *moduleProxy) get(t *testing.T) *moduleProxy {
	t.Helper()
	p.once.Do(func() { p.err = p.build(repoRoot(t)) })
	if p.err != nil {
		t.Fatalf("building the test module proxy: %v", p.err)
	}
	return p
}

func (p *moduleProxy) build(root string) error {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return err
	}
	p.modCache = strings.TrimSpace(string(out))
	p.fallback = "file://" + filepath.Join(p.modCache, "cache", "download")
	// Anything the local download cache lacks comes from the configured
	// proxy, as for any user.
	if out, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		p.fallback += "," + strings.TrimSpace(string(out))
	}
	if p.dir, err = os.MkdirTemp("", "voidbox-proxy-"); err != nil {
		return err
	}
	// Unique per run: a module version is immutable, and voidbox caches
	// what it builds from one by version.
	rnd := make([]byte, 6)
	rand.Read(rnd)
	p.version = "v0.0.0-" + time.Now().UTC().Format("20060102150405") + "-" + hex.EncodeToString(rnd)
	at := filepath.Join(p.dir, modPath, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]string{"Version": p.version, "Time": time.Now().UTC().Format(time.RFC3339)})
	for name, data := range map[string][]byte{
		"list": []byte(p.version + "\n"), p.version + ".info": info, p.version + ".mod": gomod,
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	zf, err := os.Create(filepath.Join(at, p.version+".zip"))
	if err != nil {
		return err
	}
	defer zf.Close()
	return modzip.CreateFromDir(zf, module.Version{Path: modPath, Version: p.version}, root)
}

// env is what a user's shell would have: this proxy in front of the usual
// one. The machine's own module cache is used (so go's build cache already
// holds every dependency, compiled at the same paths); the test version is
// removed from it, and from voidbox's cache, when the test ends.
func (p *moduleProxy) env(t *testing.T) []string {
	t.Cleanup(func() {
		os.RemoveAll(filepath.Join(p.modCache, modPath+"@"+p.version))
		dl, _ := filepath.Glob(filepath.Join(p.modCache, "cache", "download", modPath, "@v", p.version+".*"))
		for _, f := range dl {
			os.Remove(f)
		}
		if root, err := guestimage.CacheRoot(""); err == nil {
			os.RemoveAll(filepath.Join(root, "bin", "voidbox@"+p.version))
		}
	})
	return []string{
		"GOPROXY=file://" + p.dir + "," + p.fallback,
		"GOSUMDB=off", "GOFLAGS=-modcacherw", "GOWORK=off",
	}
}

// TestGoInstallVersionE2E: `go install github.com/voidbox/voidbox/cmd/voidbox@VERSION`
// in a directory that is not a checkout gives a working voidbox: set-up
// builds its guest binaries from the module cache copy of that version.
func TestGoInstallVersionE2E(t *testing.T) {
	vmtest.Setup(t)
	p := proxy.get(t)
	env := p.env(t)
	gobin := t.TempDir()
	if out, err := outside(t, append(env, "GOBIN="+gobin), "go", "install", modPath+"/cmd/voidbox@"+p.version); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(gobin, "voidbox-guest")); err == nil {
		t.Fatal("go install placed voidbox-guest next to voidbox; this test needs the build-from-module path")
	}
	vb := filepath.Join(gobin, "voidbox")
	out, err := outside(t, append(env, "XDG_RUNTIME_DIR="+t.TempDir()), vb, "exec", "--", "sh", "-c", "echo from the module cache")
	if err != nil || !strings.Contains(out, "from the module cache") || !strings.Contains(out, "voidbox@"+p.version) {
		t.Fatalf("installed voidbox exec: %v\n%s", err, out)
	}
	// The second start reuses the build of that version.
	out, err = outside(t, append(env, "XDG_RUNTIME_DIR="+t.TempDir()), vb, "exec", "--", "true")
	if err != nil || strings.Contains(out, "building voidbox-guest") {
		t.Fatalf("second start: %v\n%s", err, out)
	}
}

// libraryUser is the README's Go example as a program in its own module.
const libraryUser = `package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/voidbox/voidbox"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	if _, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: os.Stderr}); err != nil {
		return err
	}
	sb, err := voidbox.New(ctx, voidbox.Config{Policy: voidbox.Policy{MemoryMiB: 512, Timeout: 30 * time.Second}})
	if err != nil {
		return err
	}
	defer sb.Close()
	res, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"uname", "-r"}})
	if err != nil {
		return err
	}
	fmt.Printf("guest kernel %s", res.Stdout)
	rep, err := voidbox.NewPipeline("stats").
		Pipe(voidbox.NewBox("numbers").Exec("sh", "-c", "echo '[3,1,4]' > /workspace/output.json")).
		FanOut(voidbox.NewBox("count").Exec("wc", "-c", "/workspace/input.json"),
			voidbox.NewBox("sum").Exec("sh", "-c", "tr -d '[]' < /workspace/input.json")).
		Run(ctx, voidbox.RunOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("pipeline %s: %s\n", rep.Status, rep.Output)
	return nil
}
`

// TestLibraryUserE2E: a program in another module that requires voidbox
// (from a proxy, like any dependency) runs the README's Go example from a
// directory that is not a checkout: set-up builds the guest programs from
// the module cache copy of the version it requires.
func TestLibraryUserE2E(t *testing.T) {
	want := vmtest.Setup(t).KernelRelease
	p := proxy.get(t)
	env := p.env(t)
	src := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/vbuser\n\ngo 1.26\n",
		"main.go": libraryUser,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prog := filepath.Join(t.TempDir(), "vbuser")
	for _, args := range [][]string{{"get", modPath + "@" + p.version}, {"build", "-mod=mod", "-o", prog, "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = src
		cmd.Env = append(cleanEnv(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(prog)
	cmd.Dir = t.TempDir()
	cmd.Env = append(cleanEnv(), append(env, "XDG_RUNTIME_DIR="+t.TempDir())...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("library user: %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "guest kernel "+want) || !strings.Contains(out, "pipeline succeeded") || !strings.Contains(out, "3,1,4") {
		t.Fatalf("library user output:\n%s\nstderr %s", out, stderr.String())
	}
}
