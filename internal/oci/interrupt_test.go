package oci_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/voidbox/voidbox/internal/oci"
)

// cutter serves half of one blob and then drops the connection, as a
// registry or proxy dying mid-transfer does, while cut is set.
type cutter struct {
	next   http.Handler
	digest string
	cut    atomic.Bool
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.cut.Load() || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+c.digest) {
		c.next.ServeHTTP(w, r)
		return
	}
	rec := &bufferedWriter{header: http.Header{}}
	c.next.ServeHTTP(rec, r)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(rec.body.Bytes()[:rec.body.Len()/2])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // closes the connection without finishing the body
}

func TestInterruptedPullThenRetry(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) { testInterruptedPullThenRetry(t, kind) })
	}
}

func testInterruptedPullThenRetry(t *testing.T, kind string) {
	s := isolate(t)
	big, err := random.Layer(2<<20, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(testImage(t), big)
	if err != nil {
		t.Fatal(err)
	}
	bigDigest := layerDigests(t, img)[3]
	cnt := &counter{gets: map[string]int{}}
	cut := &cutter{digest: bigDigest}
	host := startRegistry(t, kind, func(h http.Handler) http.Handler { cnt.next = h; cut.next = cnt; return cut })
	ref := refAt(host, "test/cut:1")
	push(t, ref, img)

	cut.cut.Store(true)
	// One layer at a time, big one last: the small ones finish before the cut.
	if _, err := s.Pull(ctx, ref, oci.PullOptions{Jobs: 1}); err == nil {
		t.Fatal("pull through a connection cut mid-blob succeeded")
	}
	blob := filepath.Join(s.Dir(), "blobs", "sha256", strings.TrimPrefix(bigDigest, "sha256:"))
	if _, err := os.Stat(blob); err == nil {
		t.Fatal("the cut blob is in the cache")
	}
	if _, err := s.Inspect(ref); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("a cut pull recorded the image: %v", err)
	}
	// A process killed mid-download leaves its partial file behind.
	partial := filepath.Join(s.Dir(), "tmp", strings.TrimPrefix(bigDigest, "sha256:")+".partial")
	if err := os.WriteFile(partial, []byte("half a blob from a crashed voidbox"), 0o644); err != nil {
		t.Fatal(err)
	}
	firstTries := cnt.count(bigDigest)

	cut.cut.Store(false)
	im, err := s.Pull(ctx, ref, oci.PullOptions{})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if im.Digest != digestOf(t, img) {
		t.Fatalf("retry pulled %s", im.Digest)
	}
	for i, d := range layerDigests(t, img) {
		want := 1
		if d == bigDigest {
			want = firstTries + 1
		}
		if n := cnt.count(d); n != want {
			t.Errorf("layer %d fetched %d times, want %d (finished blobs are kept; the cut one restarts)", i, n, want)
		}
	}
	if _, err := os.Stat(partial); err == nil {
		t.Error("the partial file survived the retry")
	}
	if _, err := s.BuildRootFS(ctx, ref, oci.RootFSOptions{}); err != nil {
		t.Fatal(err)
	}
}
