package oci_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/rootfs"
	"github.com/voidbox/voidbox/internal/rootfs/rootfstest"
)

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func octal(m uint32) string        { return strconv.FormatUint(uint64(m), 8) }
func ids(f rootfstest.File) string { return strconv.Itoa(f.UID) + ":" + strconv.Itoa(f.GID) }
func itoa(n int) string            { return strconv.Itoa(n) }

// wantFiles is what testImage's layers say the root holds.
func wantFiles() map[string]string {
	return map[string]string{
		"/":               "dir 755 0:0",
		"/etc":            "dir 755 0:0",
		"/etc/os-release": "file 644 0:0 ID=voidtest\nVERSION_ID=1\n",
		"/bin":            "dir 755 0:0",
		"/bin/su":         "file 4755 0:0 setuid links=2",
		"/bin/su-link":    "file 4755 0:0 setuid links=2",
		"/loop-a":         "symlink -> loop-b",
		"/loop-b":         "symlink -> loop-a",
		"/srv":            "dir 755 1000:1000",
		"/srv/new":        "file 640 0:0 new",
	}
}

// describe renders a file the way wantFiles does, reading the content
// back out of the image's reader result by its hash.
func describe(f rootfstest.File, contents map[string]string) string {
	switch f.Kind {
	case "dir":
		return strings.TrimSpace(strings.Join([]string{"dir", octal(f.Mode), ids(f)}, " "))
	case "symlink":
		return "symlink -> " + f.Target
	case "file":
		s := "file " + octal(f.Mode) + " " + ids(f) + " " + contents[f.SHA256]
		if f.Links > 1 {
			s += " links=" + itoa(f.Links)
		}
		return s
	}
	return f.Kind
}

func TestPullFlattenAndBuild(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) { testPullFlattenAndBuild(t, kind) })
	}
}

func testPullFlattenAndBuild(t *testing.T, kind string) {
	s := isolate(t)
	host := startRegistry(t, kind, nil)
	img := testImage(t)
	ref := refAt(host, "test/multi:1")
	pushIndex(t, ref, twoPlatformIndex(t, img))

	var progress bytes.Buffer
	im, err := s.Pull(ctx, ref, oci.PullOptions{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if im.Digest != digestOf(t, img) || im.Index == "" {
		t.Errorf("pulled %s (index %q), want the amd64 child %s", im.Digest, im.Index, digestOf(t, img))
	}
	if len(im.Layers) != 3 || im.WorkingDir != "/srv" || im.User != "1000:1000" ||
		!slices.Equal(im.Env, []string{"PATH=/usr/bin:/bin", "GREETING=hi"}) || !slices.Equal(im.Entrypoint, []string{"/bin/sh", "-c"}) {
		t.Errorf("record %+v", im)
	}
	if !strings.Contains(progress.String(), "layer 3/3") || !strings.Contains(progress.String(), "pulled ") {
		t.Errorf("progress lines:\n%s", progress.String())
	}
	got, err := s.Inspect(ref)
	if err != nil || got.Digest != im.Digest || !slices.Equal(got.Refs, []string{ref}) {
		t.Fatalf("inspect %s = %+v, %v", ref, got, err)
	}

	contents := map[string]string{}
	for _, c := range []string{"ID=voidtest\nVERSION_ID=1\n", "setuid", "new"} {
		contents[sha(c)] = c
	}
	for _, format := range []rootfs.Format{rootfs.Erofs, rootfs.Ext4} {
		t.Run(string(format), func(t *testing.T) {
			rf, err := s.BuildRootFS(ctx, ref, oci.RootFSOptions{Format: format})
			if err != nil {
				t.Fatal(err)
			}
			files := rootfstest.Read(t, string(format), rf.Path)
			got := map[string]string{}
			for p, f := range files {
				got[p] = describe(f, contents)
			}
			want := wantFiles()
			for p, w := range want {
				if got[p] != w {
					t.Errorf("%s: got %q, want %q", p, got[p], w)
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					t.Errorf("image has %s (%s), the layers do not", p, got[p])
				}
			}
			again, err := s.BuildRootFS(ctx, im.Digest, oci.RootFSOptions{Format: format})
			if err != nil || again.Path != rf.Path {
				t.Errorf("second build: %+v, %v", again, err)
			}
		})
	}
}

func TestPullByDigestAndUpToDate(t *testing.T) {
	s := isolate(t)
	c := &counter{gets: map[string]int{}}
	host := newRegistry(t, func(h http.Handler) http.Handler { c.next = h; return c })
	img := testImage(t)
	push(t, refAt(host, "test/one:1"), img)
	byDigest := refAt(host, "test/one@"+digestOf(t, img))
	if _, err := s.Pull(ctx, byDigest, oci.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := s.Pull(ctx, refAt(host, "test/one:1"), oci.PullOptions{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("second pull of the same image: %s", out.String())
	}
	for _, d := range layerDigests(t, img) {
		if n := c.count(d); n != 1 {
			t.Errorf("layer %s fetched %d times over two pulls, want 1", d, n)
		}
	}
	list := must[[]*oci.Image](t)(s.List())
	if len(list) != 1 || len(list[0].Refs) != 2 {
		t.Errorf("list = %+v", list)
	}
}

func TestPlatformMissingFromIndex(t *testing.T) {
	s := isolate(t)
	host := newRegistry(t, nil)
	img := testImage(t)
	idx := twoPlatformIndex(t, img)
	m := must[*v1.IndexManifest](t)(idx.IndexManifest())
	arm := must[v1.Image](t)(idx.Image(m.Manifests[0].Digest))
	pushIndex(t, refAt(host, "test/arm:1"), mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}))
	_, err := s.Pull(ctx, refAt(host, "test/arm:1"), oci.PullOptions{})
	if !errors.Is(err, oci.ErrInvalid) || !strings.Contains(err.Error(), "no linux/amd64") || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("pull of an arm64-only index: %v", err)
	}
}

// tamper flips one byte of the blob with the given digest on its way out.
type tamper struct {
	next   http.Handler
	digest string
}

func (tp tamper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+tp.digest) {
		tp.next.ServeHTTP(w, r)
		return
	}
	rec := &bufferedWriter{header: http.Header{}}
	tp.next.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	if len(body) > 0 {
		body[len(body)/2] ^= 0x01
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(body)
}

type bufferedWriter struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = 200
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) { b.code = code }

func TestTamperedBlobIsRejected(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) { testTamperedBlobIsRejected(t, kind) })
	}
}

func testTamperedBlobIsRejected(t *testing.T, kind string) {
	s := isolate(t)
	img := testImage(t)
	layer := layerDigests(t, img)[0]
	host := startRegistry(t, kind, func(h http.Handler) http.Handler { return tamper{next: h, digest: layer} })
	ref := refAt(host, "test/evil:1")
	push(t, ref, img)
	_, err := s.Pull(ctx, ref, oci.PullOptions{})
	if !errors.Is(err, oci.ErrDigest) {
		t.Fatalf("pull through a tampering registry: %v, want a digest mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "blobs", "sha256", strings.TrimPrefix(layer, "sha256:"))); err == nil {
		t.Error("the tampered blob is in the cache")
	}
	if list := must[[]*oci.Image](t)(s.List()); len(list) != 0 {
		t.Errorf("an image was recorded: %+v", list)
	}
	if _, err := s.Inspect(ref); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("inspect after a failed pull: %v", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if len(tmp) != 0 {
		t.Errorf("tmp/ holds %v after the failed pull", tmp)
	}
}

func TestConcurrentPullsFetchOnce(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) { testConcurrentPullsFetchOnce(t, kind) })
	}
}

func testConcurrentPullsFetchOnce(t *testing.T, kind string) {
	s := isolate(t)
	c := &counter{gets: map[string]int{}, delay: 100 * time.Millisecond}
	host := startRegistry(t, kind, func(h http.Handler) http.Handler { c.next = h; return c })
	img := testImage(t)
	ref := refAt(host, "test/twice:1")
	push(t, ref, img)
	s2, err := oci.Open(filepath.Dir(s.Dir())) // a second Store on the same cache, as another process would have
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, st := range []*oci.Store{s, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Pull(ctx, ref, oci.PullOptions{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, d := range layerDigests(t, img) {
		if n := c.count(d); n != 1 {
			t.Errorf("layer %s fetched %d times by two concurrent pulls, want 1", d, n)
		}
	}
	if _, err := s.BuildRootFS(ctx, ref, oci.RootFSOptions{}); err != nil {
		t.Fatal(err)
	}
}
