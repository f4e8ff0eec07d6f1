package stage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/spec"
)

// ImageSkill is an OCI image mounted read-only in a box's VM (an OCI
// skill): its bin/ joins every command's PATH, and in agent stages its
// SKILL.md, if it has one, is a skill like a file skill.
type ImageSkill struct {
	Ref   string
	Mount string // absolute guest path
}

// Output is a directory a pipeline box leaves for later boxes: a fresh
// host directory per attempt, mounted read-write at Guest.
type Output struct{ Name, Guest string }

// Input mounts the output named From, of a box that ran before, read-only
// at Guest.
type Input struct{ From, Guest string }

// storageProblems checks a box's images, outputs and inputs.
func (b *Box) storageProblems() []error {
	var errs []error
	guests := map[string]string{} // guest path → what is mounted there
	claim := func(g, what string) {
		if err := policy.CheckGuestMountPath(g); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return
		}
		for other, w := range guests {
			if policy.Overlaps(g, other) {
				errs = append(errs, fmt.Errorf("%s at %s overlaps %s at %s", what, g, w, other))
				return
			}
		}
		guests[g] = what
	}
	for i, m := range b.Policy.Mounts {
		guests[m.Guest] = fmt.Sprintf("mounts[%d]", i)
	}
	for _, im := range b.Images {
		if err := policy.CheckImageRef(im.Ref); err != nil {
			errs = append(errs, fmt.Errorf("oci skill: %w", err))
		}
		claim(im.Mount, "oci skill "+im.Ref)
	}
	names := map[string]bool{}
	for _, o := range b.Outputs {
		if o.Name == "" || names[o.Name] {
			errs = append(errs, fmt.Errorf("output %q: empty or declared twice", o.Name))
		}
		names[o.Name] = true
		claim(o.Guest, "output "+o.Name)
	}
	for _, in := range b.Inputs {
		if in.From == "" {
			errs = append(errs, errors.New("an input without the output it reads (From)"))
		}
		claim(in.Guest, "input "+in.From)
	}
	return errs
}

// outputDirs are the host directories of a run's box outputs.
type outputDirs struct {
	root string
	dirs map[string]string // output name → host directory
}

// newOutputDirs makes a directory per output of stages below root (a new
// temporary directory when root is ""), or nothing when no box has an
// output.
func newOutputDirs(stages map[string]Staged, root string) (*outputDirs, error) {
	od := &outputDirs{dirs: map[string]string{}}
	var boxes []string
	for name, st := range stages {
		if len(st.Box.Outputs) > 0 {
			boxes = append(boxes, name)
		}
	}
	if len(boxes) == 0 {
		return od, nil
	}
	slices.Sort(boxes)
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "voidbox-outputs-"); err != nil {
			return nil, fmt.Errorf("box outputs: %w", err)
		}
	}
	od.root = root
	for _, name := range boxes {
		for _, o := range stages[name].Box.Outputs {
			if _, dup := od.dirs[o.Name]; dup {
				return nil, fmt.Errorf("%w: output %q is declared by two boxes", sandbox.ErrInvalid, o.Name)
			}
			od.dirs[o.Name] = filepath.Join(root, name+"-"+o.Name)
		}
	}
	return od, nil
}

// mounts returns b's policy with its outputs (emptied for this attempt:
// a retry is a clean slate) and inputs added as host mounts, and the host
// directory of each output.
func (od *outputDirs) mounts(b *Box) (policy.Sandbox, map[string]string, error) {
	p := b.Policy.Clone()
	var out map[string]string
	for _, o := range b.Outputs {
		dir := od.dirs[o.Name]
		if err := os.RemoveAll(dir); err != nil {
			return p, nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return p, nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		p.Mounts = append(p.Mounts, policy.Mount{Host: dir, Guest: o.Guest, Mode: policy.ReadWrite})
		if out == nil {
			out = map[string]string{}
		}
		out[o.Name] = dir
	}
	for _, in := range b.Inputs {
		dir, ok := od.dirs[in.From]
		if !ok {
			return p, nil, fmt.Errorf("%w: input %q: no box has that output", sandbox.ErrInvalid, in.From)
		}
		p.Mounts = append(p.Mounts, policy.Mount{Host: dir, Guest: in.Guest, Mode: policy.ReadOnly})
	}
	return p, out, nil
}

// imageMounts are the sandbox's image mounts of b's OCI skills.
func (b *Box) imageMounts() []sandbox.ImageMount {
	var out []sandbox.ImageMount
	for _, im := range b.Images {
		out = append(out, sandbox.ImageMount{Ref: im.Ref, Path: im.Mount, OnPath: true})
	}
	return out
}

// maxSkillFile bounds an OCI skill's SKILL.md, as a file skill's.
const maxSkillFile = spec.MaxSkillFileSize

// imageSkills checks each OCI skill's mount at stage start, as cli skills
// are checked, and reads its SKILL.md (if any) into a skill. An image with
// neither bin/ nor SKILL.md at its root provides nothing, which is an
// error rather than a silent no-op.
func imageSkills(ctx context.Context, sb *sandbox.Sandbox, images []ImageSkill) ([]Skill, error) {
	var out []Skill
	for _, im := range images {
		md := path.Join(im.Mount, "SKILL.md")
		fi, ok, err := sb.Stat(ctx, md)
		if err != nil {
			return nil, fmt.Errorf("oci skill %s: %w", im.Ref, err)
		}
		if !ok {
			if bin, ok, err := sb.Stat(ctx, path.Join(im.Mount, "bin")); err != nil || !ok || !bin.IsDir() {
				return nil, fmt.Errorf("%w: oci skill %s: the image has neither SKILL.md nor bin/ at its root", sandbox.ErrInvalid, im.Ref)
			}
			continue
		}
		if fi.Size > maxSkillFile {
			return nil, fmt.Errorf("%w: oci skill %s: SKILL.md is larger than %d KiB", sandbox.ErrInvalid, im.Ref, maxSkillFile>>10)
		}
		data, err := sb.ReadFile(ctx, md)
		if err != nil {
			return nil, fmt.Errorf("oci skill %s: %w", im.Ref, err)
		}
		name, desc, err := spec.ParseSkillFrontMatter(data)
		if err != nil {
			return nil, fmt.Errorf("%w: oci skill %s: SKILL.md: %w", sandbox.ErrInvalid, im.Ref, err)
		}
		out = append(out, Skill{Kind: SkillFile, Name: name, Description: desc, Content: string(data), GuestPath: md})
	}
	return out, nil
}
