package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// fsOutput is an entry of outputs.json: the data inline, or the name of its
// file under blobs/RUN/.
type fsOutput struct {
	Size int64  `json:"size"`
	Data []byte `json:"data,omitempty"`
	File string `json:"file,omitempty"`
}

// PutOutput implements Outputs.
func (s *FS) PutOutput(ctx context.Context, run, stage string, data []byte) error {
	if err := checkOutput(stage, data); err != nil {
		return err
	}
	r, err := s.lockInFlight(run)
	if err != nil {
		return fmt.Errorf("storing output of %q: %w", stage, err)
	}
	defer r.mu.Unlock()
	o := fsOutput{Size: int64(len(data)), Data: data}
	if len(data) > InlineOutputMax {
		if o.File, err = s.blobs.write(run, stage, data); err != nil {
			return err
		}
		o.Data = nil
	}
	outputs := make(map[string]fsOutput, len(r.outputs)+1)
	for k, v := range r.outputs {
		outputs[k] = v
	}
	old := outputs[stage]
	outputs[stage] = o
	if err := writeJSON(filepath.Join(r.dir, "outputs.json"), outputs); err != nil {
		if o.File != "" {
			s.blobs.remove(run, o.File)
		}
		return fmt.Errorf("storing output of %q: %w", stage, err)
	}
	r.outputs = outputs
	if old.File != "" {
		s.blobs.remove(run, old.File)
	}
	return nil
}

// Output implements Outputs.
func (s *FS) Output(ctx context.Context, run, stage string) ([]byte, error) {
	r, err := s.lockRun(run)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	o, ok := r.outputs[stage]
	switch {
	case !ok:
		return nil, fmt.Errorf("output of stage %q: %w", stage, ErrNotFound)
	case o.File != "":
		return s.blobs.read(run, o.File)
	}
	return nonNil(o.Data), nil
}

// ListOutputs implements Outputs.
func (s *FS) ListOutputs(ctx context.Context, run string) ([]OutputInfo, error) {
	r, err := s.lockRun(run)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	var out []OutputInfo
	for name, o := range r.outputs {
		out = append(out, OutputInfo{Stage: name, Size: o.Size})
	}
	sortOutputs(out)
	return out, nil
}

func sortOutputs(out []OutputInfo) {
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
}

// fsSandbox is sandboxes/ID.json.
type fsSandbox struct {
	ID       string `json:"id"`
	Config   []byte `json:"config"`
	Created  int64  `json:"created_ns"`
	LastUsed int64  `json:"last_used_ns"`
}

func (f fsSandbox) sandbox() Sandbox {
	return Sandbox{ID: f.ID, Config: f.Config, Created: fromNanos(f.Created), LastUsed: fromNanos(f.LastUsed)}
}

func (s *FS) sandboxPath(id string) string { return filepath.Join(s.dir, "sandboxes", id+".json") }

// saveSandbox. Precondition: s.mu held.
func (s *FS) saveSandbox(sb Sandbox) error {
	if err := writeJSON(s.sandboxPath(sb.ID), fsSandbox{sb.ID, sb.Config, nanos(sb.Created), nanos(sb.LastUsed)}); err != nil {
		return fmt.Errorf("sandbox %s: %w", sb.ID, err)
	}
	s.sandboxes[sb.ID] = sb
	return nil
}

// CreateSandbox implements Sandboxes.
func (s *FS) CreateSandbox(ctx context.Context, config []byte) (Sandbox, error) {
	if err := checkSandboxConfig(config); err != nil {
		return Sandbox{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Sandbox{}, ErrClosed
	}
	now := time.Now().UTC()
	sb := Sandbox{ID: s.ids.next(now), Config: config, Created: now, LastUsed: now}
	return sb, s.saveSandbox(sb)
}

// lockedSandbox finds a sandbox with s.mu held; the caller unlocks.
func (s *FS) lockedSandbox(id string) (Sandbox, error) {
	s.mu.Lock()
	if s.closed {
		return Sandbox{}, ErrClosed
	}
	sb, ok := s.sandboxes[id]
	if !ok {
		return Sandbox{}, fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	return sb, nil
}

// GetSandbox implements Sandboxes.
func (s *FS) GetSandbox(ctx context.Context, id string) (Sandbox, error) {
	defer s.mu.Unlock()
	return s.lockedSandbox(id)
}

// ListSandboxes implements Sandboxes.
func (s *FS) ListSandboxes(ctx context.Context) ([]Sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []Sandbox
	for _, sb := range s.sandboxes {
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// TouchSandbox implements Sandboxes.
func (s *FS) TouchSandbox(ctx context.Context, id string, at time.Time) error {
	defer s.mu.Unlock()
	sb, err := s.lockedSandbox(id)
	if err != nil {
		return err
	}
	sb.LastUsed = at.UTC()
	return s.saveSandbox(sb)
}

// DeleteSandbox implements Sandboxes.
func (s *FS) DeleteSandbox(ctx context.Context, id string) error {
	defer s.mu.Unlock()
	if _, err := s.lockedSandbox(id); err != nil {
		return err
	}
	if err := os.Remove(s.sandboxPath(id)); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	delete(s.sandboxes, id)
	return syncDir(filepath.Dir(s.sandboxPath(id)))
}
