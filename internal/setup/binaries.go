package setup

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/voidbox/voidbox/internal/guestimage"
)

// Binary is one of the static programs voidbox puts in the guest.
type Binary struct {
	Name   string // file name, next to the voidbox executable when installed
	PkgDir string // main package in the voidbox module
	Env    string // variable that names the file instead
	// OldEnv is an earlier name of Env. It is refused with an error naming
	// Env rather than obeyed or ignored: a library has no good place to
	// print a deprecation notice, and ignoring it would silently run a
	// different binary from the one the user named.
	OldEnv string
}

var (
	// GuestInit is PID 1 of every VM.
	GuestInit = Binary{Name: "voidbox-guest", PkgDir: "cmd/voidbox-guest", Env: "VOIDBOX_GUEST_INIT", OldEnv: "VOIDBOX_GUEST_AGENT"}
	// AgentBinary is the built-in LLM agent, in agent stages' image only.
	AgentBinary = Binary{Name: "voidbox-agent", PkgDir: "cmd/voidbox-agent", Env: "VOIDBOX_AGENT_BINARY"}
)

// binarySearch is where Find looks; tests describe hosts and builds with it.
type binarySearch struct {
	getenv   func(string) string
	exe      string                       // os.Executable()
	source   func() (moduleSource, error) // the voidbox source this code was built from
	goTool   func() (string, error)       // the Go toolchain
	cacheDir string                       // "" = guestimage.CacheRoot default
	progress io.Writer
	build    bool // false: say where the binary would come from, build nothing
}

func realSearch(cacheDir string, progress io.Writer, build bool) binarySearch {
	exe, _ := os.Executable()
	return binarySearch{
		getenv: os.Getenv, exe: exe, cacheDir: cacheDir, progress: progress, build: build,
		goTool: goTool,
		source: func() (moduleSource, error) {
			g, _ := goTool()
			return findModuleSource(realSourceLookup(g))
		},
	}
}

// Find returns the path of b, a static x86-64 executable: the file $b.Env
// names (a set $b.OldEnv without it is an error); else b.Name next to the running executable (an installed voidbox:
// `CGO_ENABLED=0 go install ./cmd/...` or a release archive); else a build
// of b from the voidbox source this code was compiled from (the module
// cache copy behind `go install …@VERSION` or a library user's go.mod, or
// the checkout of a `go build`), placed in the cache. Builds of a module
// version are reused; builds of a checkout are redone (go's own build cache
// makes that cheap) so the guest always matches the source.
func Find(ctx context.Context, b Binary, cacheDir string, progress io.Writer) (string, error) {
	return find(ctx, b, realSearch(cacheDir, progress, true))
}

// Locate says where Find would take b from, without building anything.
func Locate(b Binary, cacheDir string) (string, error) {
	return find(context.Background(), b, realSearch(cacheDir, nil, false))
}

func find(ctx context.Context, b Binary, s binarySearch) (string, error) {
	if p := s.getenv(b.Env); p != "" {
		return checkedBinary(p, "$"+b.Env)
	}
	if b.OldEnv != "" && s.getenv(b.OldEnv) != "" {
		return "", fmt.Errorf("%s: $%s was renamed %s; set that instead", b.Name, b.OldEnv, b.Env)
	}
	if s.exe != "" {
		p := filepath.Join(filepath.Dir(s.exe), b.Name)
		if _, err := os.Stat(p); err == nil {
			return checkedBinary(p, "the file next to "+filepath.Base(s.exe))
		}
	}
	hint := fmt.Sprintf("put %s next to the voidbox binary (CGO_ENABLED=0 go install ./cmd/... from a checkout does), or set %s", b.Name, b.Env)
	src, err := s.source()
	if err != nil {
		return "", &MissingDependencyError{What: b.Name, Hint: fmt.Sprintf("it is not installed and cannot be built from source (%v); %s", err, hint)}
	}
	out, reuse, err := buildPath(s.cacheDir, src, b)
	if err != nil {
		return "", err
	}
	// Locate takes what the last set-up built; Find reuses only builds of
	// an immutable module version.
	if reuse || !s.build {
		if p, err := checkedBinary(out, "the build from "+src.Dir); err == nil {
			return p, nil
		}
	}
	if !s.build {
		return "", &MissingDependencyError{What: b.Name, Hint: "not built yet; `voidbox setup` builds it from " + src.Dir}
	}
	goBin, err := s.goTool()
	if err != nil {
		return "", &MissingDependencyError{What: "go", Package: "golang-go",
			Hint: fmt.Sprintf("building %s from %s needs the Go toolchain (%v); %s", b.Name, src.Dir, err, hint)}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("building %s: %w (set VOIDBOX_CACHE_DIR to a writable directory)", b.Name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), b.Name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("building %s: %w", b.Name, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	fmt.Fprintf(orDiscard(s.progress), "building %s from %s\n", b.Name, src.Dir)
	if err := goBuild(ctx, goBin, src, b.PkgDir, tmp.Name()); err != nil {
		return "", fmt.Errorf("building %s: %w", b.Name, err)
	}
	// Rename is atomic: concurrent set-ups never see half a binary.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("building %s: %w", b.Name, err)
	}
	return checkedBinary(out, "the build from "+src.Dir)
}

var safeVersion = regexp.MustCompile(`^v[0-9A-Za-z.+-]{1,100}$`)

// buildPath is where the build of b from src lives in the cache, and whether
// an existing file there may be reused (only for immutable module versions).
func buildPath(cacheDir string, src moduleSource, b Binary) (string, bool, error) {
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return "", false, err
	}
	if src.Version != "" && safeVersion.MatchString(src.Version) {
		return filepath.Join(root, "bin", "voidbox@"+src.Version, b.Name), true, nil
	}
	sum := sha256.Sum256([]byte(src.Dir))
	return filepath.Join(root, "bin", "src-"+hex.EncodeToString(sum[:6]), b.Name), false, nil
}

// checkedBinary verifies that p is a static x86-64 ELF executable; from says where p came from.
func checkedBinary(p, from string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("guest binary %s (from %s): %w", abs, from, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("guest binary %s (from %s): not an executable file", abs, from)
	}
	f, err := elf.Open(abs)
	if err != nil {
		return "", fmt.Errorf("guest binary %s (from %s): not an ELF binary: %w", abs, from, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return "", fmt.Errorf("guest binary %s (from %s): built for %v, the guest is x86-64", abs, from, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("guest binary %s (from %s): dynamically linked; build it with CGO_ENABLED=0", abs, from)
		}
	}
	return abs, nil
}
