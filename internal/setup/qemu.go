package setup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

const (
	qemuBinary  = "qemu-system-x86_64"
	qemuPackage = "qemu-system-x86"
)

// host is what QEMU discovery and installation look at. realHost reads the machine; tests describe
// hosts they cannot create (non-root, not Debian) and record the apt-get commands instead of running
// an install.
type host struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	root     bool
	debian   bool // /etc/debian_version exists and apt-get is on PATH
	// run runs a command, streaming its output to progress, and returns its combined output.
	run func(ctx context.Context, progress io.Writer, env []string, name string, args ...string) ([]byte, error)
}

func realHost() host {
	_, verr := os.Stat("/etc/debian_version")
	_, aerr := exec.LookPath("apt-get")
	return host{
		getenv:   os.Getenv,
		lookPath: exec.LookPath,
		root:     os.Geteuid() == 0,
		debian:   verr == nil && aerr == nil,
		run:      runCommand,
	}
}

// FindQEMU returns the path of qemu-system-x86_64: $VOIDBOX_QEMU if set (a path or a name looked up in
// PATH), else the one on PATH. A missing binary is a *MissingDependencyError.
func FindQEMU() (string, error) { return findQEMU(realHost()) }

func findQEMU(h host) (string, error) {
	if p := h.getenv("VOIDBOX_QEMU"); p != "" {
		found, err := h.lookPath(p)
		if err != nil {
			return "", &MissingDependencyError{What: p, Hint: "VOIDBOX_QEMU names a QEMU binary that does not exist or is not executable"}
		}
		return found, nil
	}
	p, err := h.lookPath(qemuBinary)
	if err != nil {
		return "", &MissingDependencyError{What: qemuBinary, Package: qemuPackage,
			Hint: "install it with `apt-get install --no-install-recommends " + qemuPackage + "` (or set VOIDBOX_QEMU)"}
	}
	return p, nil
}

// EnsureQEMU returns the QEMU binary, installing Debian's qemu-system-x86 first when it is missing and
// the process is root on a Debian host. Otherwise a missing QEMU is a *MissingDependencyError naming
// the package.
func EnsureQEMU(ctx context.Context, progress io.Writer) (string, error) {
	return ensureQEMU(ctx, progress, realHost())
}

func ensureQEMU(ctx context.Context, progress io.Writer, h host) (string, error) {
	p, err := findQEMU(h)
	if err == nil || h.getenv("VOIDBOX_QEMU") != "" {
		return p, err // an explicit override that is wrong is the user's to fix
	}
	if !h.root || !h.debian {
		return "", err
	}
	if err := aptInstall(ctx, progress, h, qemuPackage); err != nil {
		return "", fmt.Errorf("installing %s: %w", qemuPackage, err)
	}
	return findQEMU(h)
}

// aptInstall installs pkgs non-interactively, running apt-get update first when apt does not know one
// (a fresh container has empty package lists).
func aptInstall(ctx context.Context, progress io.Writer, h host, pkgs ...string) error {
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	install := append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)
	pkg := strings.Join(pkgs, " ")
	fmt.Fprintf(orDiscard(progress), "installing %s with apt-get\n", pkg)
	out, err := h.run(ctx, progress, env, "apt-get", install...)
	if err == nil {
		return nil
	}
	if !aptUnknown(out) {
		return fmt.Errorf("apt-get install: %w", err)
	}
	fmt.Fprintf(orDiscard(progress), "apt does not know %s yet: running apt-get update\n", pkg)
	if _, err := h.run(ctx, progress, env, "apt-get", "update"); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	if _, err := h.run(ctx, progress, env, "apt-get", install...); err != nil {
		return fmt.Errorf("apt-get install: %w", err)
	}
	return nil
}

func aptUnknown(out []byte) bool {
	return bytes.Contains(out, []byte("Unable to locate package")) || bytes.Contains(out, []byte("has no installation candidate"))
}

// runCommand runs name with args, extra env added, output streamed to progress and kept for the caller.
func runCommand(ctx context.Context, progress io.Writer, env []string, name string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.MultiWriter(&out, orDiscard(progress))
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		err = fmt.Errorf("%w: %s", err, lines[len(lines)-1])
	}
	return out.Bytes(), err
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
