package slimkernel

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/filelock"
)

// Fragment is the config applied on top of `make tinyconfig`. Every
// option in it must end up with its value in the final .config: an option
// the kernel's Kconfig drops (a dependency not met) fails the build.
//
//go:embed slim.config
var Fragment string

// formatVersion is part of every build's key. Bump it when the build
// steps change in a way the other inputs do not capture.
const formatVersion = 1

const (
	// SourcePackage is the Debian package holding the kernel source.
	SourcePackage = "linux-source-6.1"
	// Tarball is where SourcePackage puts the source.
	Tarball = "/usr/src/linux-source-6.1.tar.xz"
	// Flavour names the slim kernel in KernelEnv and the kernel's release.
	Flavour = "slim"
)

// KernelEnv chooses the guest kernel: "generic" (the default, Debian's
// linux-image) or "slim" (this package's build).
const KernelEnv = "VOIDBOX_KERNEL"

// Tool is a program (or file) a build needs and the Debian package that
// has it.
type Tool struct{ Check, Package string }

// Tools are what a build runs. A check starting with '/' is a file.
var Tools = []Tool{
	{Tarball, SourcePackage},
	{"make", "make"},
	{"gcc", "gcc"},
	{"ld", "binutils"},
	{"bc", "bc"},
	{"bison", "bison"},
	{"flex", "flex"},
	{"xz", "xz-utils"},
	{"/usr/include/gelf.h", "libelf-dev"}, // objtool
}

// MissingPackages lists the Debian packages of Tools whose check fails.
func MissingPackages() []string {
	var out []string
	for _, t := range Tools {
		var err error
		if strings.HasPrefix(t.Check, "/") {
			_, err = os.Stat(t.Check)
		} else {
			_, err = exec.LookPath(t.Check)
		}
		if err != nil && !slices.Contains(out, t.Package) {
			out = append(out, t.Package)
		}
	}
	return out
}

// Kernel is one build in the cache.
type Kernel struct {
	Vmlinux string `json:"-"` // absolute path of the ELF vmlinux (PVH entry point)
	Config  string `json:"-"` // absolute path of its full .config
	Dir     string `json:"-"`
	// Key is the digest of the build's inputs; also the directory's name.
	Key string `json:"key"`
	// FragmentDigest is the sha256 of Fragment the build used.
	FragmentDigest string    `json:"fragment_sha256"`
	Release        string    `json:"release"` // guest `uname -r`
	Source         string    `json:"source"`  // "linux-source-6.1=6.1.192-3"
	Compiler       string    `json:"compiler"`
	BuiltAt        time.Time `json:"built_at"`
	BuildSeconds   float64   `json:"build_seconds"`
	VmlinuxSize    int64     `json:"vmlinux_size"`
	VmlinuxSHA256  string    `json:"vmlinux_sha256"`
}

// ID is short and names the build for a person and in image keys.
func (k *Kernel) ID() string { return k.Release + "@" + k.Key[:12] }

// ErrNotBuilt reports that no slim kernel of this Fragment is in the cache.
var ErrNotBuilt = errors.New("the slim guest kernel is not built")

func fragmentDigest() string {
	s := sha256.Sum256([]byte(Fragment))
	return hex.EncodeToString(s[:])
}

func kernelsDir(root string) string { return filepath.Join(root, "kernels") }

// Lookup returns the newest complete build of this Fragment under the
// cache root, without building or running anything. Its vmlinux is
// checked against the recorded size; Verify reads it whole.
func Lookup(root string) (*Kernel, error) {
	dirs, _ := filepath.Glob(filepath.Join(kernelsDir(root), "slim-*"))
	var best *Kernel
	want := fragmentDigest()
	for _, d := range dirs {
		k, err := load(d)
		if err != nil || k.FragmentDigest != want {
			continue
		}
		if best == nil || k.BuiltAt.After(best.BuiltAt) {
			best = k
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w in %s (run `voidbox kernel build`)", ErrNotBuilt, kernelsDir(root))
	}
	return best, nil
}

// load reads one build directory; a directory without a complete record,
// or whose vmlinux is not the recorded size, is not a build.
func load(dir string) (*Kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, err
	}
	k := &Kernel{}
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "kernel.json"), err)
	}
	k.Dir, k.Vmlinux, k.Config = dir, filepath.Join(dir, "vmlinux"), filepath.Join(dir, "config")
	fi, err := os.Stat(k.Vmlinux)
	if err != nil {
		return nil, err
	}
	if fi.Size() != k.VmlinuxSize || len(k.Key) < 12 {
		return nil, fmt.Errorf("%s: %d bytes, recorded %d", k.Vmlinux, fi.Size(), k.VmlinuxSize)
	}
	return k, nil
}

// Verify reads k's vmlinux whole and compares it with the record.
func (k *Kernel) Verify() error {
	got, _, err := fileDigest(k.Vmlinux)
	if err != nil {
		return err
	}
	if got != k.VmlinuxSHA256 {
		return fmt.Errorf("%s: sha256 %s, recorded %s", k.Vmlinux, got, k.VmlinuxSHA256)
	}
	return nil
}

// Options configures Build.
type Options struct {
	Root     string    // the cache root (absolute)
	Progress io.Writer // one line per step; nil: silent
	Jobs     int       // make -j; 0: the number of CPUs
	// Force rebuilds even when a build of the same inputs is cached.
	Force bool
}

// Build returns the slim kernel of the installed source, building it when
// the cache has no build of the same inputs. The tools must be installed
// (MissingPackages is empty). Concurrent builds (in one process or
// several) build once. A cancelled build leaves nothing behind.
func Build(ctx context.Context, o Options) (*Kernel, error) {
	if miss := MissingPackages(); len(miss) > 0 {
		return nil, fmt.Errorf("building the slim kernel needs the Debian packages %s", strings.Join(miss, " "))
	}
	source, err := sourceVersion(ctx)
	if err != nil {
		return nil, err
	}
	compiler, err := compilerVersion(ctx)
	if err != nil {
		return nil, err
	}
	key := digestOf(fmt.Sprint(formatVersion), fragmentDigest(), source, compiler)
	dir := filepath.Join(kernelsDir(o.Root), "slim-"+key[:16])
	if err := os.MkdirAll(kernelsDir(o.Root), 0o755); err != nil {
		return nil, err
	}
	lock, err := filelock.Acquire(ctx, filepath.Join(kernelsDir(o.Root), "slim.lock"), func() {
		progress(o.Progress, "waiting for another slim kernel build to finish")
	})
	if err != nil {
		return nil, fmt.Errorf("slim kernel: %w", err)
	}
	defer lock.Close()
	if !o.Force {
		if k, err := load(dir); err == nil {
			progress(o.Progress, "slim kernel %s is built (%s)", k.ID(), dir)
			return k, nil
		}
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	tmp, err := os.MkdirTemp(kernelsDir(o.Root), ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	k, err := build(ctx, o.Progress, tmp, jobs)
	if err != nil {
		return nil, fmt.Errorf("slim kernel: %w", err)
	}
	k.Key, k.FragmentDigest, k.Source, k.Compiler = key, fragmentDigest(), source, compiler
	k.BuiltAt, k.BuildSeconds = time.Now().UTC(), time.Since(start).Seconds()
	out := filepath.Join(tmp, "out")
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "kernel.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(out, dir); err != nil {
		return nil, err
	}
	progress(o.Progress, "slim kernel %s built in %.0f s (%s)", k.ID(), k.BuildSeconds, dir)
	return load(dir)
}

// build unpacks the source into tmp/src, configures and builds vmlinux,
// and puts vmlinux and its config in tmp/out.
func build(ctx context.Context, w io.Writer, tmp string, jobs int) (*Kernel, error) {
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	progress(w, "unpacking %s", Tarball)
	if _, err := run(ctx, tmp, "", "tar", "-xJf", Tarball, "-C", src, "--strip-components=1"); err != nil {
		return nil, err
	}
	progress(w, "configuring: tinyconfig + %d options", len(fragmentOptions()))
	if _, err := run(ctx, tmp, src, "make", "tinyconfig"); err != nil {
		return nil, err
	}
	frag := filepath.Join(tmp, "slim.config")
	if err := os.WriteFile(frag, []byte(Fragment), 0o644); err != nil {
		return nil, err
	}
	if _, err := run(ctx, tmp, src, "scripts/kconfig/merge_config.sh", "-m", ".config", frag); err != nil {
		return nil, err
	}
	if _, err := run(ctx, tmp, src, "make", "olddefconfig"); err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(filepath.Join(src, ".config"))
	if err != nil {
		return nil, err
	}
	if bad := CheckConfig(string(cfg)); len(bad) > 0 {
		return nil, fmt.Errorf("the kernel's Kconfig did not keep these options of slim.config: %s", strings.Join(bad, "; "))
	}
	progress(w, "compiling vmlinux with make -j%d (a few minutes)", jobs)
	if _, err := run(ctx, tmp, src, "make", fmt.Sprintf("-j%d", jobs), "vmlinux"); err != nil {
		return nil, err
	}
	rel, err := run(ctx, tmp, src, "make", "-s", "kernelrelease")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	k := &Kernel{Release: strings.TrimSpace(rel)}
	if err := os.Rename(filepath.Join(src, "vmlinux"), filepath.Join(out, "vmlinux")); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "config"), cfg, 0o644); err != nil {
		return nil, err
	}
	if k.VmlinuxSHA256, k.VmlinuxSize, err = fileDigest(filepath.Join(out, "vmlinux")); err != nil {
		return nil, err
	}
	return k, nil
}

// fragmentOptions are Fragment's "CONFIG_X=v" lines (as [name, value]).
func fragmentOptions() [][2]string {
	var out [][2]string
	for _, line := range strings.Split(Fragment, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "CONFIG_") {
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		out = append(out, [2]string{name, value})
	}
	return out
}

// CheckConfig lists the options of Fragment that a full .config does not
// have with the fragment's value ("n" is met by "is not set" or absence).
func CheckConfig(config string) []string {
	have := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(config))
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# "); ok && strings.HasSuffix(name, " is not set") {
			have[strings.TrimSuffix(name, " is not set")] = "n"
		} else if name, value, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, "CONFIG_") {
			have[name] = value
		}
	}
	var bad []string
	for _, o := range fragmentOptions() {
		got, ok := have[o[0]]
		if !ok {
			got = "n"
		}
		if got != o[1] {
			bad = append(bad, fmt.Sprintf("%s=%s (got %s)", o[0], o[1], got))
		}
	}
	return bad
}

// run runs name in dir (tmp when ""), in its own process group so that a
// cancellation ends every compiler it started; output goes to a log in
// tmp whose tail is in the error.
func run(ctx context.Context, tmp, dir, name string, args ...string) (string, error) {
	if dir == "" {
		dir = tmp
	}
	logf, err := os.CreateTemp(tmp, "log-")
	if err != nil {
		return "", err
	}
	defer logf.Close()
	var stdout strings.Builder
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "KCONFIG_NOTIMESTAMP=1", "KBUILD_BUILD_USER=voidbox", "KBUILD_BUILD_HOST=voidbox")
	cmd.Stdout = io.MultiWriter(&stdout, logf)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("%s %s: %w%s", name, strings.Join(args, " "), err, tail(logf.Name(), 15))
	}
	return stdout.String(), nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

func sourceVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", SourcePackage).Output()
	if err != nil || len(out) == 0 {
		return "", fmt.Errorf("slim kernel: %s is not installed (dpkg-query: %v)", SourcePackage, err)
	}
	return SourcePackage + "=" + string(out), nil
}

func compilerVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "gcc", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("slim kernel: gcc --version: %w", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first), nil
}

func digestOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
