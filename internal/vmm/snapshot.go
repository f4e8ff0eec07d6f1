package vmm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// MemoryFile backs guest RAM with a host file (memory-backend-file) so a
// snapshot needs no copy of it: a template VM maps it shared (Shared: the
// guest's writes land in the file), and each restore maps it private, so
// a restored guest's writes are copy-on-write pages of its own QEMU and the
// file is never written through (several restores share its page cache).
type MemoryFile struct {
	Path   string
	Shared bool
}

// ignoreShared is the migration capability that leaves shared file-backed
// RAM out of the migration stream: the state file holds device state only,
// and the destination finds RAM in its own mapping of the memory file.
var ignoreShared = map[string]any{"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}}}

func (c *Config) snapshotProblems() []error {
	var errs []error
	if c.Memory.Path != "" {
		if !filepath.IsAbs(c.Memory.Path) || strings.ContainsAny(c.Memory.Path, ",\n") {
			errs = append(errs, fmt.Errorf("memory file %q: need an absolute path without ','", c.Memory.Path))
		}
		if c.hasVirtioFS() {
			errs = append(errs, errors.New("a memory file and virtiofs shares (memfd memory) exclude each other"))
		}
		if c.Confine.Confines() {
			errs = append(errs, errors.New("snapshots need an unconfined QEMU for now (its migration runs a shell, which seccomp's spawn=deny forbids, and a jailed uid cannot open the memory file)"))
		}
	}
	if c.Incoming != "" {
		if c.Memory.Path == "" || c.Memory.Shared {
			errs = append(errs, errors.New("a restore needs its memory file mapped private"))
		}
		if !shellSafe(c.Incoming) {
			errs = append(errs, fmt.Errorf("state file %q: want an absolute path of [A-Za-z0-9/._+-]", c.Incoming))
		}
	}
	return errs
}

// memoryArgs are the memory backend's and the incoming migration's
// arguments; machine is the -M value the backend is named in.
func (c *Config) memoryArgs(machine *string) []string {
	if c.Memory.Path == "" {
		return nil
	}
	p := c.Policy.WithDefaults()
	share := "off"
	if c.Memory.Shared {
		share = "on"
	}
	*machine += ",memory-backend=mem"
	a := []string{"-object", "memory-backend-file,id=mem,size=" + strconv.Itoa(p.MemoryMiB) + "M,mem-path=" + c.Memory.Path + ",share=" + share}
	if c.Incoming != "" {
		a = append(a, "-incoming", "defer")
	}
	return a
}

// Confines reports whether c jails QEMU at all (its own uid or cgroup, or
// seccomp).
func (c Confinement) Confines() bool { return c.Seccomp || !reflect.ValueOf(c.Jail).IsZero() }

// shellSafe reports whether p can be passed to QEMU's exec: migration
// (which runs /bin/sh -c) without quoting.
func shellSafe(p string) bool {
	return filepath.IsAbs(p) && strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-") == ""
}

// Save pauses the VM and writes its device state to path (0600); with a
// shared MemoryFile, guest RAM is already in that file. The VM stays
// paused: the caller closes it (the memory file must not change again).
func (m *Machine) Save(ctx context.Context, path string) error {
	if !shellSafe(path) {
		return fmt.Errorf("state file %q: want an absolute path of [A-Za-z0-9/._+-]", path)
	}
	// cat > path keeps the mode of an existing file.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
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
	if _, err := q.run("migrate", map[string]any{"uri": "exec:cat > " + path}); err != nil {
		return err
	}
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

// load restores the state file of c.Incoming into the paused VM and
// resumes it.
func (m *Machine) load(ctx context.Context, path string) error {
	q, err := dialQMP(ctx, filepath.Join(m.dir, "qmp.sock"))
	if err != nil {
		return err
	}
	defer q.Close()
	if _, err := q.run("migrate-set-capabilities", ignoreShared); err != nil {
		return err
	}
	if _, err := q.run("migrate-incoming", map[string]any{"uri": "exec:cat " + path}); err != nil {
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
