package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/slimkernel"
)

// TestKernelCommands: kernel show in a cache without a slim build says how
// to make one (exit 1, nothing on stdout); --config prints the fragment;
// a bad VOIDBOX_KERNEL is refused by a command that boots, before a boot.
func TestKernelCommands(t *testing.T) {
	cache := t.TempDir()
	r := voidbox(t, "", "kernel", "show", "--cache-dir", cache)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "voidbox kernel build") {
		t.Errorf("show without a build: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = voidbox(t, "", "kernel", "show", "--config")
	if r.code != 0 || !strings.Contains(r.stdout, "CONFIG_MODULES=n") || !strings.Contains(r.stdout, "CONFIG_PVH=y") {
		t.Errorf("show --config: exit %d, %q", r.code, r.stdout)
	}
	// A build in the cache (its record and a vmlinux of the recorded size):
	// version lists it with its digest, without a guest set-up.
	vmlinux := []byte("not really an ELF, but the recorded size")
	sum := sha256.Sum256(vmlinux)
	frag := sha256.Sum256([]byte(slimkernel.Fragment))
	dir := filepath.Join(cache, "kernels", "slim-0123456789abcdef")
	rec := fmt.Sprintf(`{"key":"0123456789abcdef","fragment_sha256":%q,"release":"6.1.192-voidbox-slim","source":"linux-source-6.1=6.1.192-3","vmlinux_size":%d,"vmlinux_sha256":%q}`,
		hex.EncodeToString(frag[:]), len(vmlinux), hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vmlinux"), vmlinux, 0o644)
	os.WriteFile(filepath.Join(dir, "kernel.json"), []byte(rec), 0o644)
	r = voidbox(t, "", "version", "--json", "--cache-dir", cache)
	var v struct {
		Slim *struct {
			Release string `json:"release"`
			SHA256  string `json:"vmlinux_sha256"`
		} `json:"slim_kernel"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 || v.Slim == nil || v.Slim.SHA256 != hex.EncodeToString(sum[:]) || v.Slim.Release != "6.1.192-voidbox-slim" {
		t.Errorf("version --json with a slim build: exit %d %q (%v)", r.code, r.stdout, err)
	}
	if r = voidbox(t, "", "version", "--cache-dir", cache); !strings.Contains(r.stdout, "slim kernel: 6.1.192-voidbox-slim@0123456789ab") {
		t.Errorf("version with a slim build: %q", r.stdout)
	}
	t.Setenv("VOIDBOX_KERNEL", "tiny")
	r = voidbox(t, "", "exec", "--", "true")
	if r.code == 0 || !strings.Contains(r.stderr, `guest kernel "tiny" (from $VOIDBOX_KERNEL): want generic or slim`) {
		t.Errorf("bad VOIDBOX_KERNEL: exit %d, stderr %q", r.code, r.stderr)
	}
}
