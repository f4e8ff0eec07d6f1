package vmm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MemoryFile backs guest RAM with a memfd so that a snapshot needs no
// copy of it in the migration stream. A template VM (Template) maps a
// fresh memfd shared; Save writes it to Path when one is set, and
// Machine.TakeMemory hands it over as an image. A restore (Image) maps a
// sealed image private, so its guest's writes are copy-on-write pages of
// its own QEMU and the image, shared by every restore of it, is never
// written. QEMU gets either as an inherited descriptor: it needs no path
// into voidbox's files (memimage.go says why a memfd).
type MemoryFile struct {
	Template bool
	Path     string
	Image    *MemoryImage
}

// ignoreShared is the migration capability that leaves shared file-backed
// RAM out of the migration stream: the state file holds device state only,
// and the destination finds RAM in its own mapping of the memory image.
var ignoreShared = map[string]any{"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}}}

func (c *Config) snapshotProblems() []error {
	var errs []error
	m := c.Memory
	if m.Path != "" && !m.Template {
		errs = append(errs, errors.New("memory: a file to save guest RAM to is a template's"))
	}
	if m.Template || m.Image != nil {
		if m.Template && m.Image != nil {
			errs = append(errs, errors.New("memory: a template's memory and a restore's image exclude each other"))
		}
		if m.Path != "" && !filepath.IsAbs(m.Path) {
			errs = append(errs, fmt.Errorf("memory file %q: need an absolute path", m.Path))
		}
		if m.Image != nil && m.Image.Size() != int64(c.Policy.WithDefaults().MemoryMiB)<<20 {
			errs = append(errs, fmt.Errorf("memory image of %d bytes for %d MiB of guest RAM", m.Image.Size(), c.Policy.WithDefaults().MemoryMiB))
		}
		if c.hasVirtioFS() {
			errs = append(errs, errors.New("a memory file and virtiofs shares (memfd memory) exclude each other"))
		}
	}
	if c.Incoming != "" {
		if m.Image == nil {
			errs = append(errs, errors.New("a restore needs a memory image"))
		}
		if !filepath.IsAbs(c.Incoming) {
			errs = append(errs, fmt.Errorf("state file %q: need an absolute path", c.Incoming))
		}
	}
	return errs
}

// memoryArgs are the memory backend's and the incoming migration's
// arguments; machine is the -M value the backend is named in.
func (c *Config) memoryArgs(r resources, in *inputs, machine *string) []string {
	if r.mem == nil {
		return nil
	}
	p := c.Policy.WithDefaults()
	share := "on"
	if c.Memory.Image != nil {
		share = "off"
	}
	*machine += ",memory-backend=mem"
	a := []string{"-object", "memory-backend-file,id=mem,size=" + strconv.Itoa(p.MemoryMiB) + "M,mem-path=" + in.path(r.mem) + ",share=" + share}
	if r.state != nil {
		// The stream is given later, by migrate-incoming (after the
		// capabilities are set), as this inherited descriptor.
		in.fd(r.state)
		a = append(a, "-incoming", "defer")
	}
	return a
}

// Save pauses the VM and writes its device state to statePath and, for a
// template with a Memory.Path, guest RAM to that file (both 0600,
// sparse). The VM stays paused: the caller closes it or takes its memory.
func (m *Machine) Save(ctx context.Context, statePath string) error {
	if m.mem == nil {
		return errors.New("saving vm state: the vm has no template memory (MemoryFile.Template)")
	}
	state, err := os.OpenFile(statePath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer state.Close()
	q, err := dialQMP(ctx, filepath.Join(m.dir, "qmp.sock"))
	if err != nil {
		return err
	}
	defer q.Close()
	if _, err := q.run("stop", nil); err != nil {
		return err
	}
	if _, err := q.run("migrate-set-capabilities", ignoreShared); err != nil {
		return err
	}
	// QEMU writes the stream to a descriptor it is handed over QMP
	// (SCM_RIGHTS): seccomp's spawn=deny rules out exec: migration, and
	// QEMU's uid could not open the file.
	if err := q.sendFD("state", state); err != nil {
		return err
	}
	if _, err := q.run("migrate", map[string]any{"uri": "fd:state"}); err != nil {
		return err
	}
	if err := m.waitMigrated(q); err != nil {
		return err
	}
	if err := state.Close(); err != nil {
		return err
	}
	if m.memPath == "" {
		return nil
	}
	return m.writeMemory()
}

// TakeMemory closes the VM (after Save) and returns its guest RAM as a
// sealed image, without its zero pages, for restores in this process: no
// memory file written and read back. The caller owns the image.
func (m *Machine) TakeMemory() (*MemoryImage, error) {
	mem := m.mem
	if mem == nil {
		return nil, errors.New("taking vm memory: the vm has no template memory, or it was taken")
	}
	m.mem = nil // Close leaves it open
	if err := m.Close(); err != nil {
		mem.Close()
		return nil, err
	}
	// QEMU is gone, and with it the shared writable mapping that sealing
	// would fail on (EBUSY).
	im, err := sealImage(mem)
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("taking vm memory: %w", err)
	}
	return im, nil
}

func (m *Machine) waitMigrated(q *qmpConn) error {
	for {
		st, desc, err := q.migration()
		if err != nil {
			return err
		}
		switch st {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("saving vm state: migration %s: %s", st, desc)
		}
		select {
		case <-m.done:
			return fmt.Errorf("saving vm state: qemu exited: %s", m.exitDetail())
		case <-time.After(poll):
		}
	}
}

// writeMemory copies the paused guest's RAM to the template's memory file.
func (m *Machine) writeMemory() error {
	f, err := os.OpenFile(m.memPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("writing guest memory: %w", err)
	}
	defer f.Close()
	fi, err := m.mem.Stat()
	if err != nil {
		return err
	}
	if err := f.Truncate(fi.Size()); err != nil {
		return fmt.Errorf("writing guest memory: %w", err)
	}
	if err := copySparse(f, m.mem, fi.Size()); err != nil {
		return fmt.Errorf("writing guest memory: %w", err)
	}
	return f.Close()
}

// load restores the device state QEMU inherited as descriptor fd into the
// paused VM and resumes it.
func (m *Machine) load(ctx context.Context, fd int) error {
	q, err := dialQMP(ctx, filepath.Join(m.dir, "qmp.sock"))
	if err != nil {
		return err
	}
	defer q.Close()
	if _, err := q.run("migrate-set-capabilities", ignoreShared); err != nil {
		return err
	}
	if _, err := q.run("migrate-incoming", map[string]any{"uri": "fd:" + strconv.Itoa(fd)}); err != nil {
		return err
	}
	for {
		st, err := q.status()
		if err != nil {
			return fmt.Errorf("loading vm state: %w", err)
		}
		if st != "inmigrate" {
			break
		}
		select {
		case <-m.done:
			return fmt.Errorf("loading vm state: qemu exited: %s", m.exitDetail())
		case <-time.After(poll):
		}
	}
	if _, err := q.run("cont", nil); err != nil {
		return fmt.Errorf("resuming the restored vm: %w", err)
	}
	return nil
}

// Version runs qemu -version and returns its first line.
func Version(ctx context.Context, qemu string) (string, error) {
	out, err := execOutput(ctx, qemu, "-version")
	if err != nil {
		return "", fmt.Errorf("asking %s for its version: %w", qemu, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

func execOutput(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}
