package voidbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/agentconfig"
)

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	err := Config{Policy: Policy{MemoryMiB: 1, VCPUs: -1, Timeout: -1, Env: map[string]string{"A=B": "x"},
		AllowedCommands: []string{"/bin/sh"}}, Host: HostOptions{Accel: "xen"}}.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	for _, want := range []string{"memory_mb", "vcpus", "timeout", "accel", "env", "allowed_commands[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestNewMissingKernel(t *testing.T) {
	_, err := New(context.Background(), Config{Image: Image{Kernel: "/nonexistent/vmlinux"}, Host: HostOptions{QEMU: "/bin/true"}})
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "/nonexistent/vmlinux") {
		t.Fatalf("got %v", err)
	}
}

func TestNewMissingQEMU(t *testing.T) {
	k := filepath.Join(t.TempDir(), "vmlinux")
	os.WriteFile(k, []byte("x"), 0o644)
	t.Setenv("VOIDBOX_QEMU", "/nonexistent/qemu-system-x86_64")
	_, err := New(context.Background(), Config{Image: Image{Kernel: k}})
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "qemu") {
		t.Fatalf("got %v", err)
	}
}

// TestNewChangesNothingOnAnUnpreparedHost: New does not set up the host
// (no apt-get, no go build, no download): with an empty cache it fails at
// once, saying what to run, and leaves the cache as it was.
func TestNewChangesNothingOnAnUnpreparedHost(t *testing.T) {
	cache := t.TempDir()
	_, err := New(context.Background(), Config{Host: HostOptions{CacheDir: cache, QEMU: "/bin/true"}})
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "voidbox setup") {
		t.Fatalf("got %v", err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("New wrote to the cache: %v", left)
	}
	_, err = NewPipeline("p").Pipe(NewBox("a").Exec("true")).Run(context.Background(), RunOptions{Host: HostOptions{CacheDir: cache, QEMU: "/bin/true"}})
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "voidbox setup") {
		t.Fatalf("run: got %v", err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("Run wrote to the cache: %v", left)
	}
}

func TestSetupUnwritableCache(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	_, err := Setup(context.Background(), SetupOptions{CacheDir: filepath.Join(f, "cache")})
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "VOIDBOX_CACHE_DIR") {
		t.Fatalf("want an error naming the cache dir, got %v", err)
	}
}

// TestAllowlistNilAndEmptyReachTheGuest: absence is "no allowlist", an empty
// list is "nothing allowed", and both survive the JSON that carries them to
// the guest and to the agent (omitempty dropped the empty list: every
// command ran).
func TestAllowlistNilAndEmptyReachTheGuest(t *testing.T) {
	for _, c := range []struct {
		name string
		box  *Box
		want string
	}{
		{"absent", NewBox("a").Exec("echo"), `"allowed_commands":null`},
		{"AllowCommands()", NewBox("a").Exec("echo").AllowCommands(), `"allowed_commands":[]`},
		{"Policy", NewBox("a").Exec("echo").Sandbox(Policy{AllowedCommands: []string{}}), `"allowed_commands":[]`},
		{"names", NewBox("a").Exec("echo").AllowCommands("echo"), `"allowed_commands":["echo"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.box.validate(); err != nil {
				t.Fatal(err)
			}
			p := c.box.b.Policy
			for what, v := range map[string]any{"policy": p.Wire(), "agent config": agentconfig.Config{AllowedCommands: p.AllowedCommands}} {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), c.want) {
					t.Errorf("%s JSON %s, want %s", what, b, c.want)
				}
			}
		})
	}
}

// TestBoxErrorSaysInvalidOnce: a box's problems read `box "x": invalid: ...`
// (it was "invalid: invalid:").
func TestBoxErrorSaysInvalidOnce(t *testing.T) {
	_, err := NewPipeline("p").Pipe(NewBox("absecho").Exec("/bin/echo").AllowCommands("/bin/echo")).Plan()
	if !errors.Is(err, ErrInvalid) || strings.Count(err.Error(), "invalid") != 1 ||
		!strings.HasPrefix(err.Error(), `box "absecho": invalid: allowed_commands[0]: "/bin/echo" is not a command name`) {
		t.Fatalf("got %v", err)
	}
}

// TestClaudeCodeRefusesAnAllowlist: Claude Code's tools run inside its own
// process, so an allowlist could not be enforced; it is refused, not ignored.
func TestClaudeCodeRefusesAnAllowlist(t *testing.T) {
	b := NewBox("c").Prompt("x").Runtime(RuntimeClaudeCode).AllowCommands("sh")
	if err := b.validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "claude-code cannot enforce") {
		t.Fatalf("got %v", err)
	}
	if err := NewBox("c").Prompt("x").Runtime(RuntimeClaudeCode).validate(); err != nil {
		t.Fatalf("without an allowlist: %v", err)
	}
}
