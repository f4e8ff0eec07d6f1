package deb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Apt is the host's apt. Show uses apt-cache, Download uses apt-get download, which works
// without root. When apt does not know a package and the process is root, it runs apt-get update once
// and tries again; otherwise the error says what to run. It is safe for concurrent use.
type Apt struct {
	// Progress receives a line when apt-get update runs. Nil means silent.
	Progress io.Writer

	mu      sync.Mutex
	updated bool // apt-get update already ran through this source; guarded by mu
}

var _ Source = (*Apt)(nil)

// Show runs apt-cache show for the candidate version of name.
func (a *Apt) Show(ctx context.Context, name string) (Package, error) {
	out, err := a.aptRetry(ctx, "apt-cache", "show", "--no-all-versions", name)
	if err != nil {
		return Package{}, fmt.Errorf("apt-cache show %s: %w", name, err)
	}
	info, err := parseAptShow(out)
	if err != nil {
		return Package{}, fmt.Errorf("apt-cache show %s: %w", name, err)
	}
	return info, nil
}

// Download runs apt-get download name=version in dir.
func (a *Apt) Download(ctx context.Context, name, version, dir string) (string, error) {
	args := []string{"download"}
	if os.Geteuid() == 0 {
		// apt drops to the _apt user to download; it cannot write into a root-owned 0700 cache and
		// complains (while downloading anyway). Root gains nothing from the sandbox here.
		args = append(args, "-o", "APT::Sandbox::User=root")
	}
	args = append(args, name+"="+version)
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Dir = dir
	if _, err := a.runApt(cmd); err != nil {
		return "", fmt.Errorf("apt-get download %s=%s: %w", name, version, err)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s=%s: expected one .deb in %s, found %d", name, version, dir, len(debs))
	}
	return debs[0], nil
}

// aptRetry runs an apt-cache query, running apt-get update once first if apt does not know the
// package and we are root.
func (a *Apt) aptRetry(ctx context.Context, prog string, args ...string) ([]byte, error) {
	out, err := a.runApt(exec.CommandContext(ctx, prog, args...))
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil || !errors.Is(err, ErrNotFound) || a.updated || os.Geteuid() != 0 {
		if errors.Is(err, ErrNotFound) && os.Geteuid() != 0 {
			err = fmt.Errorf("%w; run `sudo apt-get update` and try again", err)
		}
		return out, err
	}
	if a.Progress != nil {
		fmt.Fprintln(a.Progress, "apt does not know the package yet: running apt-get update")
	}
	a.updated = true
	upd := exec.CommandContext(ctx, "apt-get", "update")
	upd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if _, uerr := a.runApt(upd); uerr != nil {
		return nil, fmt.Errorf("apt-get update: %w", uerr)
	}
	out, err = a.runApt(exec.CommandContext(ctx, prog, args...))
	if err != nil {
		err = fmt.Errorf("%w (after apt-get update)", err)
	}
	return out, err
}

// runApt runs cmd and turns apt's "unknown package" messages into ErrNotFound.
func (a *Apt) runApt(cmd *exec.Cmd) ([]byte, error) {
	if _, err := exec.LookPath(cmd.Args[0]); err != nil {
		return nil, fmt.Errorf("%s not found: voidbox takes guest files (the kernel, busybox, glibc) from Debian's archive "+
			"and needs apt (a Debian or Ubuntu host)", cmd.Args[0])
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	if unknownPackage(msg) || (err == nil && stdout.Len() == 0 && cmd.Args[0] == "apt-cache") {
		return nil, fmt.Errorf("%w: apt has no record of it (%s)", ErrNotFound, firstLine(msg))
	}
	if err != nil {
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return nil, fmt.Errorf("%w: %s", err, lastLines(msg, 3))
	}
	return stdout.Bytes(), nil
}

func unknownPackage(msg string) bool {
	for _, s := range []string{"Unable to locate package", "No packages found", "Can't select candidate version",
		"has no installation candidate", "Version '"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// parseAptShow reads the first deb822 record that apt-cache show printed.
func parseAptShow(out []byte) (Package, error) {
	var info Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" && info.Name != "" {
			break // end of the first record
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Package":
			info.Name = val
		case "Version":
			info.Version = val
		case "Size":
			info.Size, _ = strconv.ParseInt(val, 10, 64)
		case "Depends", "Pre-Depends":
			info.Depends = append(info.Depends, dependNames(val)...)
		}
	}
	if info.Name == "" || info.Version == "" {
		return info, errors.New("no Package/Version in apt's answer")
	}
	return info, nil
}

// dependNames turns "a (>= 1), b | c, d:any" into [a b d]: the first alternative of each clause.
func dependNames(field string) []string {
	var names []string
	for _, clause := range strings.Split(field, ",") {
		alt, _, _ := strings.Cut(clause, "|")
		name, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
		name, _, _ = strings.Cut(name, ":")
		if name != "" {
			names = append(names, name)
		}
	}
	return names
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
