//go:build unix

package filelock

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestSharedExcludesExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "use.lock")
	if _, err := AcquireShared(context.Background(), p, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("shared lock of a missing file: %v", err)
	}
	x, err := TryExclusive(p)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	a, err := AcquireShared(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := AcquireShared(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("second shared holder: %v", err)
	}
	if _, err := TryExclusive(p); !errors.Is(err, ErrBusy) {
		t.Fatalf("exclusive while shared: %v", err)
	}
	a.Close()
	if _, err := TryExclusive(p); !errors.Is(err, ErrBusy) {
		t.Fatalf("exclusive while one shared holder is left: %v", err)
	}
	b.Close()
	x, err = TryExclusive(p)
	if err != nil {
		t.Fatalf("exclusive after all released: %v", err)
	}
	x.Close()
}
