package spec

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/policy"
)

// noGuestImage refuses sandbox.guest_image where only the top level may
// name it; guestImageNote is the notice of the top level's.
const (
	noGuestImage   = "can only be set in the top-level sandbox (and voidbox does not pull it: it boots its own kernel and guest init)"
	guestImageNote = "%q is not pulled: voidbox boots its own kernel and guest init, prepared by voidbox setup " +
		"(the seed's guest image carries the same two; kernel and initramfs replace them, image sets the guest's root file system)"
)

// guestImage accepts the seed's sandbox.guest_image with a notice: the
// steps still run in a VM of voidbox's own kernel and init, which is what
// the seed's image provides. An empty value (the seed's "no auto-pull") is
// what voidbox always does and needs no notice.
func (d *decoder) guestImage(f *fields, path string) {
	if v, ok := f.str("guest_image"); ok && v != "" {
		d.note(f.m["guest_image"].val, join(path, "guest_image"), guestImageNote, v)
	}
}

// Seed defaults of mount-based box outputs and inputs.
const (
	DefaultOutputDir = "/workspace/output"
	DefaultInputDir  = "/workspace/input"
)

// Output is a directory a pipeline box leaves for later boxes: a fresh
// host directory mounted read-write at Guest.
type Output struct {
	Name  string
	Guest string
	Pos   Pos

	path string // document path, for problems found after decoding
}

// Input mounts an earlier box's output (by its name) read-only at Guest.
type Input struct {
	From  string
	Guest string
	Pos   Pos

	path string
}

// image decodes sandbox.image: an OCI reference, checked by syntax here
// (the image cache resolves it when the box boots).
func (d *decoder) image(f *fields, s *Sandbox) {
	v, ok := f.str("image")
	if !ok {
		return
	}
	if err := policy.CheckImageRef(v); err != nil {
		d.at(f.m["image"].val, join(f.path, "image"), "%v", err)
		return
	}
	s.Policy.Image = v
}

// mounts decodes sandbox.mounts: [{host, guest, mode}]. A box's list
// replaces the inherited one, as allowed_commands does. Relative host
// paths resolve against the spec's directory and must name an existing
// directory now: a mistyped path is an error here, never an empty
// directory created somewhere (the seed created missing rw paths).
func (d *decoder) mounts(f *fields, s *Sandbox) {
	n, p, ok := f.get("mounts")
	if !ok {
		return
	}
	items, ok := d.seq(n, p)
	if !ok {
		return
	}
	out := []policy.Mount{}
	var at []int // each accepted mount's index in the list, for messages
	for i, it := range items {
		mp := index(p, i)
		mf := d.mapping(it, mp, &mountObject)
		if mf == nil {
			continue
		}
		m, good := d.mount(mf)
		for j, o := range out {
			if good && policy.Overlaps(m.Guest, o.Guest) {
				d.at(mf.m["guest"].val, join(mp, "guest"), "%s overlaps mounts[%d] (%s): mounts may not nest", m.Guest, at[j], o.Guest)
				good = false
				break
			}
		}
		if good {
			out = append(out, m)
			at = append(at, i)
		}
	}
	if len(out) > policy.MaxMounts {
		d.at(n, p, "%d mounts, at most %d", len(out), policy.MaxMounts)
	}
	s.Policy.Mounts = out
}

func (d *decoder) mount(f *fields) (policy.Mount, bool) {
	ok := f.require("host", "guest")
	var m policy.Mount
	if v, good := f.str("host"); good {
		m.Host, good = d.hostDir(f.m["host"].val, join(f.path, "host"), v)
		ok = ok && good
	}
	if v, good := f.str("guest"); good {
		if err := policy.CheckGuestMountPath(v); err != nil {
			d.at(f.m["guest"].val, join(f.path, "guest"), "%v", err)
			ok = false
		}
		m.Guest = v
	}
	if v, good := f.str("mode"); good {
		switch mm := policy.MountMode(v); mm {
		case policy.ReadOnly, policy.ReadWrite:
			m.Mode = mm
		default:
			d.at(f.m["mode"].val, join(f.path, "mode"), "unknown mode %q (valid: ro, rw)", v)
			ok = false
		}
	}
	if m.Mode == "" {
		m.Mode = policy.ReadOnly
	}
	return m, ok
}

// hostDir resolves a host directory against the spec's directory and
// checks that it exists.
func (d *decoder) hostDir(n *yamlNode, p, v string) (string, bool) {
	if v == "" {
		d.at(n, p, "empty path")
		return "", false
	}
	if d.noHost {
		d.at(n, p, "%s: %s", v, noHostFiles)
		return "", false
	}
	abs := v
	if !filepath.IsAbs(v) {
		abs = filepath.Join(d.dir, v)
	}
	abs = filepath.Clean(abs)
	if err := policy.CheckHostMountPath(abs); err != nil {
		d.at(n, p, "%v", err)
		return "", false
	}
	fi, err := os.Stat(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if d.checkOnly && errors.Is(err, fs.ErrNotExist) {
			d.note(n, p, "%s: %v: a run needs it (create it first: a missing host path is an error, not made for you)", v, err)
			return abs, true
		}
		d.at(n, p, "%s: %v (create it first: a missing host path is an error, not made for you)", v, err)
		return "", false
	}
	if !fi.IsDir() {
		d.at(n, p, "%s: not a directory", v)
		return "", false
	}
	return abs, true
}

// outputs decodes a box's outputs: [{name, guest}].
func (d *decoder) outputs(f *fields) []Output {
	n, p, ok := f.get("outputs")
	if !ok {
		return nil
	}
	items, ok := d.seq(n, p)
	if !ok {
		return nil
	}
	var out []Output
	for i, it := range items {
		ip := index(p, i)
		of := d.mapping(it, ip, &outputObject)
		if of == nil {
			continue
		}
		o := Output{Guest: DefaultOutputDir, Pos: d.pos(it), path: ip}
		good := of.require("name")
		if v, ok := of.str("name"); ok {
			if err := checkSkillName(v); err != nil {
				d.at(of.m["name"].val, join(ip, "name"), "invalid output name %q: want letters, digits, '.', '_' and '-'", v)
				good = false
			}
			o.Name = v
		}
		o.Guest, good = d.ioGuest(of, ip, o.Guest, good)
		if good {
			out = append(out, o)
		}
	}
	return out
}

// inputs decodes a box's inputs: [{from, guest}].
func (d *decoder) inputs(f *fields) []Input {
	n, p, ok := f.get("inputs")
	if !ok {
		return nil
	}
	items, ok := d.seq(n, p)
	if !ok {
		return nil
	}
	var out []Input
	for i, it := range items {
		ip := index(p, i)
		inf := d.mapping(it, ip, &inputObject)
		if inf == nil {
			continue
		}
		in := Input{Guest: DefaultInputDir, Pos: d.pos(it), path: ip}
		good := inf.require("from")
		if v, ok := inf.str("from"); ok {
			in.From = v
		}
		in.Guest, good = d.ioGuest(inf, ip, in.Guest, good)
		if good {
			out = append(out, in)
		}
	}
	return out
}

func (d *decoder) ioGuest(f *fields, p, def string, ok bool) (string, bool) {
	v, given := f.str("guest")
	if !given {
		return def, ok
	}
	if err := policy.CheckGuestMountPath(v); err != nil {
		d.at(f.m["guest"].val, join(p, "guest"), "%v", err)
		return v, false
	}
	return v, ok
}

// checkBoxIO checks a pipeline's outputs and inputs once its stages are
// known: output names unique in the pipeline, each input naming an output
// of a box in an earlier stage, and no two of a box's mounts (its sandbox
// mounts, outputs and inputs) at overlapping guest paths.
func (d *decoder) checkBoxIO(boxes []*Box, stageOf map[string]int) {
	type producer struct {
		box string
		pos Pos
	}
	produced := map[string]producer{}
	for _, b := range boxes {
		for _, o := range b.Outputs {
			if prev, dup := produced[o.Name]; dup {
				d.atPos(o.Pos, o.path, "output %q is also box %q's (line %d): output names are unique in a pipeline", o.Name, prev.box, prev.pos.Line)
				continue
			}
			produced[o.Name] = producer{b.Name, o.Pos}
		}
	}
	for _, b := range boxes {
		for _, in := range b.Inputs {
			prod, ok := produced[in.From]
			ps, pok := stageOf[prod.box]
			bs, bok := stageOf[b.Name]
			switch {
			case !ok:
				d.atPos(in.Pos, in.path, "no box has an output named %q", in.From)
			case prod.box == b.Name:
				d.atPos(in.Pos, in.path, "box %q reads its own output %q", b.Name, in.From)
			case pok && bok && ps >= bs: // a box in no stage was reported there
				d.atPos(in.Pos, in.path, "output %q comes from box %q, which does not run before %q", in.From, prod.box, b.Name)
			}
		}
		guests := []string{}
		for _, m := range b.Sandbox.Policy.Mounts {
			guests = append(guests, m.Guest)
		}
		check := func(pos Pos, path, g string) {
			for _, o := range guests {
				if policy.Overlaps(g, o) {
					d.atPos(pos, path+".guest", "%s overlaps another mount of box %q (%s)", g, b.Name, o)
					return
				}
			}
			guests = append(guests, g)
		}
		for _, o := range b.Outputs {
			check(o.Pos, o.path, o.Guest)
		}
		for _, in := range b.Inputs {
			check(in.Pos, in.path, in.Guest)
		}
	}
}

// ociSkill decodes {oci: REF, mount: PATH} (or the seed's {image: REF,
// mount: PATH, readonly: true}): an image mounted read-only in the guest,
// its bin/ on the agent's PATH, its SKILL.md (if any) read like a file
// skill. The mount defaults to /skills/NAME, NAME being the repository's
// last path element; the skill's name is the mount's last element.
func (d *decoder) ociSkill(f *fields) (Skill, bool) {
	f.restrict(&skillOCIObject)
	key := "oci"
	if !f.has("oci") {
		key = "image"
	}
	ok := f.exclusive("oci", "image")
	ref, good := f.str(key)
	if good {
		if err := policy.CheckImageRef(ref); err != nil {
			d.at(f.m[key].val, join(f.path, key), "%v", err)
			good = false
		}
	}
	ok = ok && good
	if v, given := f.boolean("readonly"); given && !v {
		d.at(f.m["readonly"].val, join(f.path, "readonly"), "OCI skills are always mounted read-only")
		ok = false
	}
	mount := ""
	if v, given := f.str("mount"); given {
		if err := policy.CheckGuestMountPath(v); err != nil {
			d.at(f.m["mount"].val, join(f.path, "mount"), "%v", err)
			ok = false
		}
		mount = v
	} else if good {
		mount = "/skills/" + repoName(ref)
	}
	name := path.Base(mount)
	if ok {
		if err := checkSkillName(name); err != nil {
			d.at(f.node, f.path, "cannot name the skill after its mount %s: %v", mount, err)
			ok = false
		}
	}
	return Skill{Kind: SkillOCI, Name: name, Image: ref, Mount: mount}, ok
}

// repoName is the last path element of an image reference's repository:
// "go" for "ghcr.io/acme/go:1.22" or "acme/go@sha256:...".
func repoName(ref string) string {
	r, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndexByte(r, '/'); i >= 0 {
		r = r[i+1:]
	}
	r, _, _ = strings.Cut(r, ":")
	return r
}
