package guestimage

import (
	"context"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

// testLayer adds a file and replaces /etc/motd; it counts how often it is populated.
type testLayer struct {
	name, key string
	populated int
}

func (l *testLayer) Name() string                        { return l.name }
func (l *testLayer) Key(context.Context) (string, error) { return l.key, nil }
func (l *testLayer) Populate(_ context.Context, t *Tree) error {
	l.populated++
	t.File("opt/"+l.name+"/version", 0o644, []byte(l.key))
	t.Symlink("usr/bin/"+l.name, "/opt/"+l.name+"/version")
	return nil
}

func TestEnsureLayers(t *testing.T) {
	arch := newTestArchive(t)
	base, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	node := &testLayer{name: "node", key: "v22"}
	o := arch.options()
	o.Layers = []Layer{node}
	layered, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if layered.Digest == base.Digest || layered.Initramfs == base.Initramfs {
		t.Error("adding a layer did not change the image")
	}
	e := initramfsEntries(t, layered)
	if e["opt/node/version"].data != "v22" || e["usr/bin/node"].mode != cpio.TypeSymlink|0o777 || e["init"].mode != cpio.TypeReg|0o755 {
		t.Errorf("layered image lacks the layer's or the base's files: %+v %+v %+v", e["opt/node/version"], e["usr/bin/node"], e["init"])
	}

	// Same key: the cached layer archive is reused.
	if _, err := Ensure(context.Background(), o); err != nil || node.populated != 1 {
		t.Errorf("same key: populated %d times, %v", node.populated, err)
	}
	node.key = "v23"
	bumped, err := Ensure(context.Background(), o)
	if err != nil || node.populated != 2 || bumped.Digest == layered.Digest {
		t.Errorf("new key: populated %d times, digest changed=%v, %v", node.populated, bumped.Digest != layered.Digest, err)
	}
	if initramfsEntries(t, bumped)["opt/node/version"].data != "v23" {
		t.Error("new key: image still has the old layer")
	}

	o.Layers = []Layer{&testLayer{name: "Bad Name", key: "1"}}
	if _, err := Ensure(context.Background(), o); err == nil || !strings.Contains(err.Error(), "layer name") {
		t.Errorf("bad layer name: %v", err)
	}
}
