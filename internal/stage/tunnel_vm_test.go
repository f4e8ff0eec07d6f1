package stage

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/vmtest"
	"github.com/voidbox/voidbox/internal/wire"
)

// TestSharesAndTunnelsVM: a read-only host share is visible and not writable;
// a guest loopback listener reaches a host HTTP service with no network
// device, and only the services the host registered.
func TestSharesAndTunnelsVM(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("from the host\n"), 0o644)
	var mu sync.Mutex
	var seen []string
	handler, stop := httpService(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		fmt.Fprintf(w, "service saw %s", r.URL.Path)
	}))
	defer stop()
	img := vmtest.Setup(t)
	cfg := vmtest.Host(t).Config("tunnel", policy.Sandbox{}, img.Kernel, img.Initramfs)
	cfg.Shares = []vmm.Share{{Tag: "hostdir", HostPath: dir, ReadOnly: true}}
	cfg.Listeners = []wire.Listener{{Service: "echo", Addr: "127.0.0.1:4000"}, {Service: "nobody", Addr: "127.0.0.1:4001"}}
	cfg.Services = map[string]control.TunnelHandler{"echo": handler}
	ctx := context.Background()
	sb, err := sandbox.Boot(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.Mount(ctx, "hostdir", "/mnt/host", true); err != nil {
		t.Fatal(err)
	}
	r, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "cat /mnt/host/hello.txt; echo x > /mnt/host/new 2>/dev/null && echo WROTE"}})
	if err != nil || string(r.Stdout) != "from the host\n" {
		t.Fatalf("share: %v %q %q", err, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Fatal("the guest wrote through a read-only share")
	}
	r, err = sb.Exec(ctx, sandbox.Cmd{Args: []string{"wget", "-qO-", "http://127.0.0.1:4000/v1/ping"}})
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if err != nil || string(r.Stdout) != "service saw /v1/ping" || n != 1 {
		t.Fatalf("tunnel: %v %q %q seen %v", err, r.Stdout, r.Stderr, seen)
	}
	r, err = sb.Exec(ctx, sandbox.Cmd{Args: []string{"wget", "-qO-", "-T", "5", "http://127.0.0.1:4001/"}})
	if err != nil || r.ExitCode == 0 || strings.Contains(string(r.Stdout), "service saw") {
		t.Fatalf("unregistered service answered: %v exit %d %q", err, r.ExitCode, r.Stdout)
	}
}
