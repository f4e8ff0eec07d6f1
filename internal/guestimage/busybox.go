package guestimage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/artifact"
	"github.com/voidbox/voidbox/internal/deb"
)

type busyboxFiles struct {
	binary  string
	applets []string // paths relative to the guest root, e.g. "bin/sh", "usr/bin/id"
}

// busyboxMeta is busybox.json, written last: the records of the directory's files.
type busyboxMeta struct {
	Files artifact.Set `json:"files"`
}

// loadBusybox returns the busybox directory for pkg if it is complete; a
// complete one whose files are not as recorded is damage (an error).
func (c *cacheRun) loadBusybox(pkg pkgRef) (busyboxFiles, bool, error) {
	dir := filepath.Join(c.root, "busybox", pkg.dirName())
	b, err := os.ReadFile(filepath.Join(dir, "applets.txt"))
	if err != nil {
		return busyboxFiles{}, false, nil
	}
	var meta busyboxMeta
	if mb, err := os.ReadFile(filepath.Join(dir, "busybox.json")); err != nil || json.Unmarshal(mb, &meta) != nil || meta.Files == nil {
		return busyboxFiles{}, false, &artifact.DamagedError{Path: dir, Why: "extracted by an older voidbox, without records"}
	}
	check := meta.Files.Check
	if !c.lookupOnly {
		check = meta.Files.Verify
	}
	if err := check(dir); err != nil {
		return busyboxFiles{}, false, err
	}
	return busyboxFiles{binary: filepath.Join(dir, "busybox"), applets: strings.Fields(string(b))}, true, nil
}

// ensureBusybox extracts the static busybox from pkg and records its applet list.
func (c *cacheRun) ensureBusybox(ctx context.Context, pkg pkgRef) (busyboxFiles, error) {
	bb, ok, damage := c.loadBusybox(pkg)
	switch {
	case ok:
		return bb, nil
	case damage != nil && c.lookupOnly:
		return busyboxFiles{}, fmt.Errorf("%w: %w", ErrNotPrepared, damage)
	case damage != nil:
		progress(c.progress, "repairing the cache: %v", damage)
	}
	if c.lookupOnly {
		return busyboxFiles{}, fmt.Errorf("%w: %s is not extracted in the cache", ErrNotPrepared, pkg)
	}
	stage, err := os.MkdirTemp(c.tmp, "busybox-")
	if err != nil {
		return busyboxFiles{}, err
	}
	defer os.RemoveAll(stage)
	debPath, err := c.download(ctx, pkg, stage)
	if err != nil {
		return busyboxFiles{}, err
	}
	out := filepath.Join(stage, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return busyboxFiles{}, err
	}
	bin := filepath.Join(out, "busybox")
	found := false
	err = deb.Walk(ctx, debPath, func(name string, h *tar.Header, r io.Reader) error {
		if name != "bin/busybox" || h.Typeflag != tar.TypeReg {
			return nil
		}
		found = true
		return copyToFile(bin, r, 0o755)
	})
	if err != nil {
		return busyboxFiles{}, fmt.Errorf("extracting %s: %w", pkg, err)
	}
	if !found {
		return busyboxFiles{}, fmt.Errorf("extracting %s: no bin/busybox in the package", pkg)
	}
	applets, err := listApplets(ctx, bin)
	if err != nil {
		return busyboxFiles{}, fmt.Errorf("%s: %w", pkg, err)
	}
	if err := os.WriteFile(filepath.Join(out, "applets.txt"), []byte(strings.Join(applets, "\n")+"\n"), 0o644); err != nil {
		return busyboxFiles{}, err
	}
	files, err := artifact.StampAll(out, []string{"busybox", "applets.txt"})
	if err != nil {
		return busyboxFiles{}, err
	}
	mb, err := json.Marshal(busyboxMeta{Files: files})
	if err != nil {
		return busyboxFiles{}, err
	}
	if err := os.WriteFile(filepath.Join(out, "busybox.json"), mb, 0o644); err != nil {
		return busyboxFiles{}, err
	}
	if err := replaceDir(out, filepath.Join(c.root, "busybox", pkg.dirName())); err != nil {
		return busyboxFiles{}, fmt.Errorf("installing %s: %w", pkg, err)
	}
	c.built = true
	bb, ok, err = c.loadBusybox(pkg)
	if !ok {
		return busyboxFiles{}, fmt.Errorf("%s: busybox directory incomplete right after extraction (%v)", pkg, err)
	}
	return bb, nil
}

// listApplets runs the static busybox on the host: `busybox --list-full` prints one install path per
// applet ("bin/sh", "usr/sbin/chroot").
func listApplets(ctx context.Context, bin string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--list-full")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("busybox --list-full: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var applets []string
	for _, l := range strings.Fields(stdout.String()) {
		l = path.Clean(strings.TrimPrefix(l, "/"))
		if l == "." || !isLocalSlash(l) || l == "bin/busybox" {
			continue
		}
		applets = append(applets, l)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("busybox --list-full listed no applets")
	}
	return applets, nil
}

// isLocalSlash reports whether a slash-separated name stays inside its root (no "..", not absolute).
func isLocalSlash(name string) bool {
	return name != ".." && !strings.HasPrefix(name, "../") && !strings.HasPrefix(name, "/")
}
