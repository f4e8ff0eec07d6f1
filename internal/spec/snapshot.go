package spec

import (
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/policy"
)

// snapshot decodes sandbox.snapshot: a store name, or a directory path
// (relative ones against the spec's directory). Whether the snapshot
// exists and matches the box is decided when the box starts, against the
// kernel, initramfs and QEMU it then has.
func (d *decoder) snapshot(f *fields, s *Sandbox) {
	v, ok := f.str("snapshot")
	if !ok {
		return
	}
	n, path := f.m["snapshot"].val, join(f.path, "snapshot")
	if strings.Contains(v, "/") {
		if d.noHost {
			d.at(n, path, "%s: %s", v, noHostFiles)
			return
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(d.dir, v)
		}
	}
	if err := policy.CheckSnapshotRef(v); err != nil {
		d.at(n, path, "%v", err)
		return
	}
	s.Policy.Snapshot = v
}

// snapshotConflicts reports, on the merged sandbox, what a box started
// from a snapshot cannot have, at the key of this block that brought it in
// (snapshot if this block sets it).
func (d *decoder) snapshotConflicts(f *fields, s *Sandbox) {
	p := s.Policy
	if p.Snapshot == "" {
		return
	}
	conflicts := []struct {
		key string
		on  bool
	}{
		{"network", p.HasNetwork()}, {"ports", len(p.Ports) > 0},
		{"mounts", len(p.Mounts) > 0}, {"image", p.Image != ""},
	}
	for _, c := range conflicts {
		if !c.on {
			continue
		}
		key := "snapshot"
		if !f.has(key) {
			if !f.has(c.key) {
				continue // reported where both were set
			}
			key = c.key
		}
		d.at(f.m[key].val, join(f.path, key), "a box started from a snapshot cannot have %s: a snapshot carries no network device, mounts or image (drop one of them)", c.key)
	}
}

// boxSnapshotIO refuses outputs and inputs on a box started from a
// snapshot: they are host directories shared into the VM, which a restored
// guest has no device for.
func (d *decoder) boxSnapshotIO(f *fields, b *Box) {
	if b.Sandbox.Policy.Snapshot == "" {
		return
	}
	for _, key := range []string{"outputs", "inputs"} {
		if f.has(key) {
			d.at(f.m[key].val, join(f.path, key), "box %q starts from a snapshot (sandbox.snapshot), which cannot carry the shared directories of %s", b.Name, key)
		}
	}
}
