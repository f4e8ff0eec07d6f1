//go:build unix

package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestExclusiveAndCancellable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := false
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, p, func() { waited = true }); !errors.Is(err, context.DeadlineExceeded) || !waited {
		t.Fatalf("second Acquire while held: %v (waited %v)", err, waited)
	}
	l.Close()
	l.Close()
	l2, err := Acquire(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Close()
}
