package oci_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/voidbox/voidbox/internal/oci"
)

func TestRemoveRefusesImageInUse(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) { testRemoveRefusesImageInUse(t, kind) })
	}
}

func testRemoveRefusesImageInUse(t *testing.T, kind string) {
	s := isolate(t)
	host := startRegistry(t, kind, nil)
	img := testImage(t)
	ref := refAt(host, "test/busy:1")
	push(t, ref, img)
	if _, err := s.Pull(ctx, ref, oci.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BuildRootFS(ctx, ref, oci.RootFSOptions{}); err != nil {
		t.Fatal(err)
	}
	lease, err := s.Use(ctx, ref) // what a VM booting from the image holds
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, ref); !errors.Is(err, oci.ErrInUse) {
		t.Fatalf("rm of an image in use: %v", err)
	}
	if r, err := s.Prune(ctx, 0); err != nil || len(r.Removed) != 0 || !slices.Equal(r.InUse, []string{digestOf(t, img)}) {
		t.Fatalf("prune of an image in use: %+v, %v", r, err)
	}
	if _, err := s.Inspect(ref); err != nil {
		t.Fatalf("image gone after a refused rm: %v", err)
	}
	lease.Close()
	lease.Close()
	removed, err := s.Remove(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, digestOf(t, img)) {
		t.Errorf("removed %v", removed)
	}
	if _, err := s.Inspect(ref); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("inspect after rm: %v", err)
	}
	blobs, _ := os.ReadDir(filepath.Join(s.Dir(), "blobs", "sha256"))
	if len(blobs) != 0 {
		t.Errorf("%d blobs left after removing the only image", len(blobs))
	}
	if _, err := s.Use(ctx, digestOf(t, img)); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("use after rm: %v", err)
	}
}

func TestRemoveOneOfTwoRefs(t *testing.T) {
	s := isolate(t)
	host := newRegistry(t, nil)
	img := testImage(t)
	for _, tag := range []string{"a", "b"} {
		push(t, refAt(host, "test/tags:"+tag), img)
		if _, err := s.Pull(ctx, refAt(host, "test/tags:"+tag), oci.PullOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remove(ctx, refAt(host, "test/tags:a")); err != nil {
		t.Fatal(err)
	}
	im, err := s.Inspect(refAt(host, "test/tags:b"))
	if err != nil || !slices.Equal(im.Refs, []string{refAt(host, "test/tags:b")}) {
		t.Fatalf("the other tag: %+v, %v", im, err)
	}
	if _, err := s.Remove(ctx, oci.ShortDigest(im.Digest)); err != nil {
		t.Fatalf("rm by short digest: %v", err)
	}
	if list := must[[]*oci.Image](t)(s.List()); len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
}

func TestPruneIsLRUWithinTheCap(t *testing.T) {
	s := isolate(t)
	host := newRegistry(t, nil)
	var digests []string
	for i, tag := range []string{"old", "mid", "new"} {
		img, err := random.Image(200_000, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref := refAt(host, "test/lru:"+tag)
		push(t, ref, img)
		if _, err := s.Pull(ctx, ref, oci.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		// Pull order is not use order: "old" was used last week.
		used := time.Now().Add(time.Duration(i-3) * time.Hour)
		p := filepath.Join(s.Dir(), "images", digestOf(t, img)[7:], "used")
		if err := os.Chtimes(p, used, used); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digestOf(t, img))
	}
	if _, err := s.Use(ctx, refAt(host, "test/lru:old")); err != nil { // now "old" is the newest
		t.Fatal(err)
	}
	list := must[[]*oci.Image](t)(s.List())
	if list[0].Digest != digests[0] {
		t.Errorf("list is not most-recent first: %s", list[0].Digest)
	}
	// Room for two of the three images: the least recently used ("mid") goes.
	r, err := s.Prune(ctx, 2*list[0].Size+list[0].Size/2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Removed, []string{digests[1]}) || r.Freed < 200_000 {
		t.Fatalf("prune removed %v (freed %d), want only the least recently used %s", r.Removed, r.Freed, digests[1])
	}
	if _, err := s.Inspect(refAt(host, "test/lru:mid")); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("mid still there: %v", err)
	}
	for _, tag := range []string{"old", "new"} {
		if _, err := s.Inspect(refAt(host, "test/lru:"+tag)); err != nil {
			t.Errorf("%s pruned: %v", tag, err)
		}
	}
}
