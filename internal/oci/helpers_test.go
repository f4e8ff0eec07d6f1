package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/voidbox/voidbox/internal/oci"
)

type tentry struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	data       string
}

func tarOf(t testing.TB, es ...tentry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: time.Unix(1700000000, 0)}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func layerOf(t testing.TB, b []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is a small image with every layer rule in it: a whiteout, an
// opaque directory, a symlink loop, a hard link, a setuid file, and a
// layer of zero bytes.
func testImage(t testing.TB) v1.Image {
	t.Helper()
	f := func(n string, mode int64, data string) tentry {
		return tentry{name: n, typ: tar.TypeReg, mode: mode, data: data}
	}
	base := tarOf(t,
		tentry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		f("etc/os-release", 0o644, "ID=voidtest\nVERSION_ID=1\n"),
		tentry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		f("bin/su", 0o4755, "setuid"),
		tentry{name: "bin/su-link", typ: tar.TypeLink, link: "bin/su"},
		tentry{name: "loop-a", typ: tar.TypeSymlink, link: "loop-b"},
		tentry{name: "loop-b", typ: tar.TypeSymlink, link: "loop-a"},
		tentry{name: "srv/", typ: tar.TypeDir, mode: 0o755, uid: 1000, gid: 1000},
		f("srv/old", 0o644, "old"),
		f("gone", 0o644, "to be whited out"),
	)
	top := tarOf(t,
		f(".wh.gone", 0, ""),
		tentry{name: "srv/", typ: tar.TypeDir, mode: 0o755, uid: 1000, gid: 1000},
		f("srv/.wh..wh..opq", 0, ""),
		f("srv/new", 0o640, "new"),
	)
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, base), layerOf(t, nil), layerOf(t, top))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Env = []string{"PATH=/usr/bin:/bin", "GREETING=hi"}
	cfg.Config.WorkingDir = "/srv"
	cfg.Config.User = "1000:1000"
	cfg.Config.Entrypoint = []string{"/bin/sh", "-c"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// twoPlatformIndex holds an arm64 random image and img for amd64.
func twoPlatformIndex(t testing.TB, img v1.Image) v1.ImageIndex {
	t.Helper()
	arm, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
}

// counter wraps a registry handler and counts blob GETs by digest.
type counter struct {
	next  http.Handler
	delay time.Duration // before each blob GET, so concurrent pulls overlap
	mu    sync.Mutex
	gets  map[string]int // guarded by mu
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
		c.mu.Lock()
		c.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
		c.mu.Unlock()
		time.Sleep(c.delay)
	}
	c.next.ServeHTTP(w, r)
}

func (c *counter) count(d string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[d]
}

// newRegistry starts go-containerregistry's in-process registry on a
// loopback port, wrapped by wrap (nil: none), and returns its host:port.
func newRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(nopLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	return newServer(t, h)
}

func newServer(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func pushIndex(t testing.TB, ref string, idx v1.ImageIndex) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// isolate keeps the user's docker credentials out of a test and gives it
// its own cache.
func isolate(t *testing.T) *oci.Store {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	s, err := oci.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func layerDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

var ctx = context.Background()

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func refAt(host, repo string) string { return fmt.Sprintf("%s/%s", host, repo) }
