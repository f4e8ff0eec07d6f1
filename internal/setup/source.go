package setup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

const modulePath = "github.com/voidbox/voidbox"

// thisFile is this source file's path relative to the module root; the
// compiler records the full path of every source file (module-relative with
// -trimpath), which is how a running voidbox finds the source it was built
// from.
const thisFile = "internal/setup/source.go"

// moduleSource is the voidbox module source a binary was compiled from.
type moduleSource struct {
	Dir string
	// Version is the module version when Dir is an immutable module cache
	// copy (go install ...@v1.2.3, or a library user's dependency); "" for
	// a checkout, whose content may change between runs.
	Version string
}

// sourceLookup is what findModuleSource looks at; tests describe builds
// they cannot produce (trimpath, module cache) with it.
type sourceLookup struct {
	file      string                          // this file's compiled-in path (runtime.Caller)
	buildInfo func() (*debug.BuildInfo, bool) // debug.ReadBuildInfo
	modCache  func() (string, error)          // `go env GOMODCACHE`
}

func realSourceLookup(goBin string) sourceLookup {
	_, file, _, _ := runtime.Caller(0)
	return sourceLookup{
		file:      file,
		buildInfo: debug.ReadBuildInfo,
		modCache: func() (string, error) {
			if goBin == "" {
				return "", errors.New("no go toolchain")
			}
			out, err := exec.Command(goBin, "env", "GOMODCACHE").Output()
			if err != nil {
				return "", fmt.Errorf("go env GOMODCACHE: %w", err)
			}
			return strings.TrimSpace(string(out)), nil
		},
	}
}

// findModuleSource returns the source tree of the voidbox code that is
// running: the checkout it was built in, the module cache copy of the
// version a `go install …@VERSION` or a library user's go.mod named, or the
// directory a replace directive pointed at. The tree must still be there.
func findModuleSource(l sourceLookup) (moduleSource, error) {
	if l.file == "" {
		return moduleSource{}, errors.New("this binary records no source paths")
	}
	if filepath.IsAbs(l.file) {
		dir, ok := strings.CutSuffix(filepath.ToSlash(l.file), "/"+thisFile)
		if !ok {
			return moduleSource{}, fmt.Errorf("unexpected source path %s", l.file)
		}
		dir = filepath.FromSlash(dir)
		src := moduleSource{Dir: dir}
		if _, v, ok := strings.Cut(filepath.Base(dir), "@"); ok {
			src.Version = v // a module cache directory: module@version
		}
		return src, checkSourceTree(dir)
	}
	// -trimpath: "github.com/voidbox/voidbox@v1.2.3/internal/..." for a
	// module cache copy, "github.com/voidbox/voidbox/internal/..." for the
	// main module or a replaced one.
	rest, ok := strings.CutPrefix(l.file, modulePath)
	if !ok {
		return moduleSource{}, fmt.Errorf("unexpected source path %s", l.file)
	}
	if strings.HasPrefix(rest, "@") {
		version, _, _ := strings.Cut(rest[1:], "/")
		mc, err := l.modCache()
		if err != nil {
			return moduleSource{}, err
		}
		dir := filepath.Join(mc, escapeModulePath(modulePath)+"@"+version)
		return moduleSource{Dir: dir, Version: version}, checkSourceTree(dir)
	}
	if bi, ok := l.buildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == modulePath && d.Replace != nil && filepath.IsAbs(d.Replace.Path) {
				return moduleSource{Dir: d.Replace.Path}, checkSourceTree(d.Replace.Path)
			}
		}
	}
	return moduleSource{}, errors.New("this binary was built with -trimpath from a source tree it does not name")
}

// checkSourceTree verifies that dir holds the voidbox module with its guest programs.
func checkSourceTree(dir string) error {
	if !modFileDeclares(filepath.Join(dir, "go.mod"), modulePath) {
		return fmt.Errorf("%s no longer holds the voidbox source it was built from", dir)
	}
	for _, b := range []Binary{GuestInit, AgentBinary} {
		if _, err := os.Stat(filepath.Join(dir, b.PkgDir)); err != nil {
			return fmt.Errorf("%s has no %s: %w", dir, b.PkgDir, err)
		}
	}
	return nil
}

// escapeModulePath encodes upper-case letters the way the module cache
// does ("!" + lower case); voidbox's own path has none, but do it right.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func modFileDeclares(gomod, module string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == module
		}
	}
	return false
}

// goTool finds the Go toolchain: PATH, then the one this binary was built
// with, then the usual install location.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{filepath.Join(runtime.GOROOT(), "bin", "go"), "/usr/local/go/bin/go"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH")
}

// goBuild builds pkgDir of src statically for the guest (linux/amd64, no
// cgo) into out.
func goBuild(ctx context.Context, goBin string, src moduleSource, pkgDir, out string) error {
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./"+pkgDir)
	cmd.Dir = src.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off")
	if src.Version != "" {
		// A module cache copy is read-only and complete: never edit its go.mod.
		cmd.Env = append(cmd.Env, "GOFLAGS=-mod=readonly")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./%s in %s: %w: %s", pkgDir, src.Dir, err, strings.TrimSpace(string(b)))
	}
	return nil
}
