package toolbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Package is one resolved Debian package.
type Package struct {
	Name    string `json:"package"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// debName is the file apt-get saves the package as (':' of an epoch is %3a).
func (p Package) debName() string {
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch + ".deb"
}

// downloadClosure has apt resolve names and everything they depend on, as
// if nothing were installed, and download the .debs into dir/archives.
//
// apt-get install --download-only with a private, empty dpkg status file
// does the whole resolution apt does for a real install (versions,
// alternatives, virtual packages, Pre-Depends): measured 11 s for the
// default set (82 packages, 46 MB, 1 s of it downloading). `apt-cache
// depends --recurse` lists alternatives and virtual names unresolved and
// needs a download per package on top. A simulated run (-s) first names the
// exact versions. dir/archives is kept between builds, so apt downloads
// only what changed.
func downloadClosure(ctx context.Context, dir string, names []string) ([]Package, []string, error) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return nil, nil, fmt.Errorf("apt-get not found: the toolbox image is built from Debian packages and needs apt (a Debian or Ubuntu host)")
	}
	archives := filepath.Join(dir, "archives")
	if err := os.MkdirAll(filepath.Join(archives, "partial"), 0o755); err != nil {
		return nil, nil, err
	}
	status := filepath.Join(dir, "status")
	if err := os.WriteFile(status, nil, 0o644); err != nil {
		return nil, nil, err
	}
	base := []string{"-q", "-y", "--no-install-recommends",
		"-o", "Dir::Cache=" + dir, "-o", "Dir::Cache::archives=" + archives,
		"-o", "Dir::State::status=" + status, "-o", "Debug::NoLocking=1"}
	if os.Geteuid() == 0 {
		// apt drops to _apt to download; it cannot write into a root-owned cache.
		base = append(base, "-o", "APT::Sandbox::User=root")
	}
	sim, err := runApt(ctx, append(append(append([]string{}, base...), "-s", "install"), names...))
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := parseSimulation(sim)
	if err != nil {
		return nil, nil, err
	}
	if _, err := runApt(ctx, append(append(append([]string{}, base...), "--download-only", "install"), names...)); err != nil {
		return nil, nil, err
	}
	var debs []string
	for _, p := range pkgs {
		f := filepath.Join(archives, p.debName())
		if _, err := os.Stat(f); err != nil {
			return nil, nil, fmt.Errorf("apt resolved %s=%s but left no %s", p.Name, p.Version, f)
		}
		debs = append(debs, f)
	}
	return pkgs, debs, nil
}

func runApt(ctx context.Context, args []string) (string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("apt-get %s: %w: %s", strings.Join(args[len(args)-3:], " "), err, lastLines(out.String(), 4))
	}
	return out.String(), nil
}

// parseSimulation reads apt-get -s's "Inst NAME (VERSION ... [ARCH])"
// lines, sorted by name.
func parseSimulation(out string) ([]Package, error) {
	var pkgs []Package
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(l, "Inst ")
		if !ok {
			continue
		}
		name, rest, _ := strings.Cut(rest, " (")
		version, rest, _ := strings.Cut(rest, " ")
		rest, _, _ = strings.Cut(rest, ")") // "Debian:12.15/oldstable [amd64]"; a "[]" may follow
		i, j := strings.LastIndex(rest, "["), strings.LastIndex(rest, "]")
		if name == "" || version == "" || i < 0 || j < i {
			return nil, fmt.Errorf("apt-get -s line %q", l)
		}
		pkgs = append(pkgs, Package{Name: name, Version: version, Arch: rest[i+1 : j]})
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("apt resolved no packages: %s", lastLines(out, 4))
	}
	sort.Slice(pkgs, func(a, b int) bool { return pkgs[a].Name < pkgs[b].Name })
	return pkgs, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
