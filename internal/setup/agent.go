package setup

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/guestimage"
)

const (
	agentName   = "voidbox-guest"
	modulePath  = "github.com/voidbox/voidbox"
	agentPkgDir = "cmd/voidbox-guest"
)

// guestBinary names one of the static binaries voidbox puts in the guest.
type guestBinary struct {
	name   string // file name, next to the voidbox executable when installed
	pkgDir string // main package in the source tree
	env    string // variable that overrides where it is
}

var (
	// guestAgentBinary is PID 1 of every VM.
	guestAgentBinary = guestBinary{agentName, agentPkgDir, "VOIDBOX_GUEST_AGENT"}
	// builtinAgentBinary is the built-in LLM agent, in agent stages only.
	builtinAgentBinary = guestBinary{"voidbox-agent", "cmd/voidbox-agent", "VOIDBOX_AGENT_BINARY"}
)

// agentSearch is where FindGuestAgent looks: the running executable's path, the working directory
// (to find a source checkout), the cache to build into, and the environment.
type agentSearch struct {
	getenv   func(string) string
	exe      string // os.Executable()
	wd       string
	cacheDir string // "" = guestimage.CacheRoot default
	progress io.Writer
	bin      guestBinary // zero value: the guest agent
}

func (s agentSearch) binary() guestBinary {
	if s.bin.name == "" {
		return guestAgentBinary
	}
	return s.bin
}

// FindGuestAgent returns the static voidbox-guest binary: $VOIDBOX_GUEST_AGENT if set; else
// voidbox-guest next to the running executable; else, when the working directory is inside the
// voidbox source tree and Go is installed, a fresh build of ./cmd/voidbox-guest placed in the cache
// (cacheDir, "" for the default). The binary must be a static x86-64 ELF: it runs as PID 1 in a guest
// that has no dynamic loader.
func FindGuestAgent(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	return findGuestAgent(ctx, agentSearch{getenv: os.Getenv, exe: exe, wd: wd, cacheDir: cacheDir, progress: progress})
}

// FindAgentBinary finds (or builds) voidbox-agent, the built-in LLM agent, the same way:
// $VOIDBOX_AGENT_BINARY, next to the executable, or built from a source checkout.
func FindAgentBinary(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	return findGuestAgent(ctx, agentSearch{getenv: os.Getenv, exe: exe, wd: wd, cacheDir: cacheDir, progress: progress, bin: builtinAgentBinary})
}

func findGuestAgent(ctx context.Context, s agentSearch) (string, error) {
	b := s.binary()
	if p := s.getenv(b.env); p != "" {
		return checkedAgent(p, b.env)
	}
	if s.exe != "" {
		p := filepath.Join(filepath.Dir(s.exe), b.name)
		if _, err := os.Stat(p); err == nil {
			return checkedAgent(p, "the file next to "+filepath.Base(s.exe))
		}
	}
	src, ok := findSourceTree(s.wd)
	if !ok {
		return "", &MissingDependencyError{What: b.name,
			Hint: "set " + b.env + " to the static binary, install it next to the voidbox binary, " +
				"or run from a voidbox source checkout with Go installed"}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", &MissingDependencyError{What: "go", Package: "golang-go",
			Hint: "building " + b.name + " from " + src + " needs the Go toolchain (or set " + b.env + ")"}
	}
	p, err := buildAgent(ctx, s, goBin, src)
	if err != nil {
		return "", err
	}
	return checkedAgent(p, "the build from "+src)
}

// findSourceTree walks up from dir to a go.mod that declares the voidbox module and has the guest
// agent's main package.
func findSourceTree(dir string) (string, bool) {
	for dir != "" {
		if modFileDeclares(filepath.Join(dir, "go.mod"), modulePath) {
			_, err := os.Stat(filepath.Join(dir, agentPkgDir))
			return dir, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", false
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

// buildAgent builds the guest agent statically into <cache>/agent/voidbox-guest through a temp file
// and a rename, so concurrent set-ups never see half a binary. go build's own cache keeps repeated
// builds of unchanged sources fast (well under a second).
func buildAgent(ctx context.Context, s agentSearch, goBin, src string) (string, error) {
	root, err := guestimage.CacheRoot(s.cacheDir)
	if err != nil {
		return "", err
	}
	b := s.binary()
	dir := filepath.Join(root, "agent")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building %s: %w (set VOIDBOX_CACHE_DIR to a writable directory)", b.name, err)
	}
	tmp, err := os.CreateTemp(dir, b.name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("building %s: %w", b.name, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	fmt.Fprintf(orDiscard(s.progress), "building %s from %s\n", b.name, src)
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", tmp.Name(), "./"+b.pkgDir)
	cmd.Dir = src
	// The guest is linux/amd64 whatever the host is; no cgo keeps the binary static.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: go build: %w: %s", b.name, err, strings.TrimSpace(string(out)))
	}
	final := filepath.Join(dir, b.name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("building %s: %w", b.name, err)
	}
	return final, nil
}

// checkedAgent verifies that p is a static x86-64 ELF executable; from says where p came from.
func checkedAgent(p, from string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("guest agent %s (from %s): %w", abs, from, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("guest agent %s (from %s): not an executable file", abs, from)
	}
	f, err := elf.Open(abs)
	if err != nil {
		return "", fmt.Errorf("guest agent %s (from %s): not an ELF binary: %w", abs, from, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return "", fmt.Errorf("guest agent %s (from %s): built for %v, the guest is x86-64", abs, from, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("guest agent %s (from %s): dynamically linked; build it with CGO_ENABLED=0", abs, from)
		}
	}
	return abs, nil
}
