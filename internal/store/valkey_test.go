package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
	"github.com/voidbox/voidbox/internal/store/storetest"
)

// TestValkeyWakesAcrossProcesses: a waiter on one connection is woken by an
// append made through another (as by a second daemon process), through the
// store's pub/sub channel, not by polling.
func TestValkeyWakesAcrossProcesses(t *testing.T) {
	addr := storetest.StartRedis(t)
	url := fmt.Sprintf("valkey://%s/0?prefix=x&data=%s", addr, filepath.Join(t.TempDir(), "d"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, _, err := a.CreateRun(ctx, store.NewRun{Name: "x", Kind: "pipeline"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.WaitEvents(ctx, r.ID, 0) }()
	select {
	case err := <-done:
		t.Fatalf("woke with nothing appended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	if _, err := b.AppendEvents(ctx, r.ID, []store.Event{{Type: "x"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("woken %v after the other connection's append", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by another connection's append")
	}
}
