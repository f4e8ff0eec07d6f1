package oci_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/artifact"
	"github.com/voidbox/voidbox/internal/oci"
)

// TestDamagedImageFilesAreFoundAndRebuilt: a truncated root file system
// and a truncated layer blob are named by Verify; the next build replaces
// the root file system instead of handing out the damaged one, and the
// next pull fetches the blob again.
func TestDamagedImageFilesAreFoundAndRebuilt(t *testing.T) {
	s := isolate(t)
	host := newRegistry(t, nil)
	img := testImage(t)
	ref := refAt(host, "test/heal:1")
	push(t, ref, img)
	if _, err := s.Pull(ctx, ref, oci.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	rf, err := s.BuildRootFS(ctx, ref, oci.RootFSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	os.Truncate(rf.Path, rf.Size/2)
	blob := filepath.Join(s.Dir(), "blobs", "sha256", strings.TrimPrefix(layerDigests(t, img)[0], "sha256:"))
	os.Truncate(blob, 10)
	got := artifact.Damaged(s.Verify())
	if len(got) != 2 {
		t.Fatalf("Verify named %v, want the blob and the root file system", got)
	}
	if _, err := s.Pull(ctx, ref, oci.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := s.BuildRootFS(ctx, ref, oci.RootFSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Size != rf.Size {
		t.Fatalf("rebuilt root file system is %d bytes, was %d", again.Size, rf.Size)
	}
	if err := s.Verify(); err != nil {
		t.Fatalf("after the repair: %v", err)
	}
}
