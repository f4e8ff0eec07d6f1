package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/client"
	"github.com/voidbox/voidbox/internal/store"
	"github.com/voidbox/voidbox/internal/store/storetest"
)

func TestMain(m *testing.M) {
	crashChildMain() // the kill -9 test's daemon process; returns unless it is one
	storetest.HelperMain()
	os.Exit(m.Run())
}

// served is a daemon serving on a unix socket in the test's directory.
type served struct {
	d      *Daemon
	srv    *apiserver.Server
	c      *client.Client
	socket string
	st     store.Store
}

// serveTest starts a daemon on a fresh SQLite store (or url) and stops it,
// checking no VM is left, when the test ends.
func serveTest(t *testing.T, cfg Config, url string) *served {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	if url == "" {
		url = "sqlite:" + filepath.Join(dir, "state.db")
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	d, err := New(ctx, cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s", "voidbox.sock")
	srv, err := apiserver.New(ctx, apiserver.Config{Handler: d, Socket: sock, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx) }()
	c, err := client.New("unix://"+sock, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Shutdown(context.Background()); err != nil && err.Error() != "daemon: already shut down" {
			t.Errorf("shutdown: %v", err)
		}
		stop()
		<-done
		st.Close()
		if n := d.VMs(); n != 0 {
			t.Errorf("%d VMs left after shutdown", n)
		}
	})
	return &served{d: d, srv: srv, c: c, socket: sock, st: st}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
