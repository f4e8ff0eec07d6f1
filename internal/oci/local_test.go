package oci_test

import (
	"errors"
	"testing"

	"github.com/voidbox/voidbox/internal/oci"
)

func TestAddLocalImageAndPushItBack(t *testing.T) {
	s := isolate(t)
	img := testImage(t)
	if _, err := s.Add(ctx, "docker.io/library/x:1", img); !errors.Is(err, oci.ErrInvalid) {
		t.Errorf("adding a local image under a registry name: %v", err)
	}
	im, err := s.Add(ctx, oci.LocalRegistry+"/test:1", img)
	if err != nil {
		t.Fatal(err)
	}
	if im.Digest != digestOf(t, img) || im.WorkingDir != "/srv" {
		t.Errorf("added %+v", im)
	}
	if _, err := s.Pull(ctx, oci.LocalRegistry+"/test:1", oci.PullOptions{}); !errors.Is(err, oci.ErrInvalid) {
		t.Errorf("pull of a local image: %v", err)
	}
	// The cached image, pushed to a registry and pulled into another cache,
	// keeps its digest.
	cached, err := s.Image(oci.LocalRegistry + "/test:1")
	if err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, nil)
	push(t, refAt(host, "test/roundtrip:1"), cached)
	s2 := must[*oci.Store](t)(oci.Open(t.TempDir()))
	back, err := s2.Pull(ctx, refAt(host, "test/roundtrip:1"), oci.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest != im.Digest {
		t.Errorf("round trip changed the digest: %s -> %s", im.Digest, back.Digest)
	}
}
