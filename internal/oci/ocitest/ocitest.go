// Package ocitest gives tests real OCI registries on loopback and small
// images built in the test: go-containerregistry's in-process registry,
// Debian's docker-registry (CNCF distribution 2.8) as a process, and
// images made of tar layers, among them a runnable busybox root.
package ocitest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registry starts go-containerregistry's in-process registry on a
// loopback port (closed when the test ends) and returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Distribution runs Debian's docker-registry on a free loopback port with
// its storage in a temp dir, stops it (by PID) when the test ends, and
// returns its host:port.
func Distribution(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry not found: install the docker-registry package (the scripts' ensure_host_packages does)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry on %s did not answer /v2/ within 15s: %v\n%s", addr, err, strings.TrimSpace(logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Push writes img to ref (a registry from Registry or Distribution).
func Push(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// File is one entry of a layer. Kind is tar.TypeReg (the zero value),
// TypeDir, TypeSymlink or TypeLink.
type File struct {
	Kind     byte
	Mode     int64
	UID, GID int
	Data     string // contents (regular files)
	Link     string // target (symlinks, hard links)
}

// Layer is a tar layer of the files, in path order (directories first
// within a path, as a tar from a real build would be).
func Layer(t testing.TB, files map[string]File) v1.Layer {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, p := range paths {
		f := files[p]
		kind := f.Kind
		if kind == 0 {
			kind = tar.TypeReg
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
			if kind == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Typeflag: kind, Mode: mode, Uid: f.UID, Gid: f.GID,
			Linkname: f.Link, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if kind == tar.TypeReg {
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Config is the part of an image config a test sets.
type Config struct {
	Env        []string
	WorkingDir string
	User       string
}

// Image is a linux/amd64 OCI image of the layers with cfg.
func Image(t testing.TB, cfg Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env, cf.Config.WorkingDir, cf.Config.User = cfg.Env, cfg.WorkingDir, cfg.User
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// BusyboxRoot is the files of a small runnable root file system: the
// static busybox at /bin/busybox (a host path, the guest image's), a
// link per applet in /bin, /etc/os-release saying ID=osRelease, a passwd
// with root only, and /tmp.
func BusyboxRoot(t testing.TB, busybox, osRelease string) map[string]File {
	t.Helper()
	bin, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("%s --list: %v", busybox, err)
	}
	files := map[string]File{
		"/bin":            {Kind: tar.TypeDir},
		"/bin/busybox":    {Mode: 0o755, Data: string(bin)},
		"/etc":            {Kind: tar.TypeDir},
		"/etc/os-release": {Data: "ID=" + osRelease + "\nNAME=\"voidbox test image\"\n"},
		"/etc/passwd":     {Data: "root:x:0:0:root:/root:/bin/sh\n"},
		"/etc/group":      {Data: "root:x:0:\n"},
		"/tmp":            {Kind: tar.TypeDir, Mode: 0o1777},
		"/usr":            {Kind: tar.TypeDir},
		"/usr/bin":        {Kind: tar.TypeDir},
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			files["/bin/"+a] = File{Kind: tar.TypeSymlink, Link: "busybox"}
		}
	}
	return files
}
