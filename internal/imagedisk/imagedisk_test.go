package imagedisk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/imagedisk"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/oci/ocitest"
	"github.com/voidbox/voidbox/internal/sandbox"
)

func TestOpen(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	cache := t.TempDir()
	reg := ocitest.Registry(t)
	ref := reg + "/x/y:1"
	ocitest.Push(t, ref, ocitest.Image(t, ocitest.Config{Env: []string{"A=1"}, WorkingDir: "/w"},
		ocitest.Layer(t, map[string]ocitest.File{"/etc/os-release": {Data: "ID=t\n"}})))
	s := imagedisk.New(cache)

	_, err := s.Open(ctx, ref)
	var m *imagedisk.MissingError
	if !errors.As(err, &m) || m.Pulled || !errors.Is(err, sandbox.ErrMissingDependency) || !strings.Contains(err.Error(), "voidbox image pull "+ref) {
		t.Fatalf("not pulled: %v", err)
	}
	if _, err := s.Open(ctx, "voidbox.local/toolbox:latest"); !strings.Contains(fmtErr(err), "voidbox image build toolbox") {
		t.Errorf("local image: %v", err)
	}
	if _, err := s.Open(ctx, "Bad Ref"); !errors.Is(err, sandbox.ErrInvalid) {
		t.Errorf("bad reference: %v", err)
	}

	store, err := oci.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Pull(ctx, ref, oci.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, ref); !errors.As(err, &m) || !m.Pulled {
		t.Fatalf("pulled, not built: %v", err)
	}
	rf, err := store.BuildRootFS(ctx, ref, oci.RootFSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != rf.Path || d.WorkingDir != "/w" || len(d.Env) != 1 || !strings.HasPrefix(d.Digest, "sha256:") {
		t.Errorf("disk %+v", d)
	}
	if _, err := store.Remove(ctx, ref); !errors.Is(err, oci.ErrInUse) {
		t.Errorf("rm while open: %v", err)
	}
	if err := d.Release(); err != nil {
		t.Fatal(err)
	}
	if err := d.Release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	if _, err := store.Remove(ctx, ref); err != nil {
		t.Errorf("rm after release: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
