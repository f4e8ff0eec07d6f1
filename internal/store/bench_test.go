package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/voidbox/voidbox/internal/store"
	"github.com/voidbox/voidbox/internal/store/storetest"
)

// benchStores opens one fresh store of each kind.
func benchStores(b *testing.B, fn func(b *testing.B, s store.Store)) {
	kinds := []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "s.db") }},
		{"fs", func(b *testing.B) string { return "fs:" + filepath.Join(b.TempDir(), "fs") }},
		{"valkey", func(b *testing.B) string {
			return fmt.Sprintf("valkey://%s/0?prefix=bench&data=%s", storetest.StartRedis(b), b.TempDir())
		}},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			s, err := store.Open(context.Background(), k.url(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fn(b, s)
		})
	}
}

func event(i int) store.Event {
	return store.Event{Type: "exec.output", Data: fmt.Appendf(nil,
		`{"time":"2026-12-01T00:00:00Z","type":"exec.output","run":"bench","stage":"build","attempt":1,"fields":{"stream":"stdout","data":"line %d of output\n"}}`, i)}
}

// BenchmarkAppend: one AppendEvents call per op, of `batch` events, each
// durable when the call returns.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchStores(b, func(b *testing.B, s store.Store) {
				ctx := context.Background()
				r, _, _ := s.CreateRun(ctx, store.NewRun{Name: "bench", Kind: "pipeline"})
				evs := make([]store.Event, batch)
				for i := range evs {
					evs[i] = event(i)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := s.AppendEvents(ctx, r.ID, evs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
}

// BenchmarkRead: one page of 100 events per op, from a 10,000-event stream,
// at a moving offset (what SSE resumes and JSON pages do).
func BenchmarkRead(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		r, _, _ := s.CreateRun(ctx, store.NewRun{Name: "bench", Kind: "pipeline"})
		evs := make([]store.Event, 1000)
		for i := range evs {
			evs[i] = event(i)
		}
		for range 10 {
			if _, err := s.AppendEvents(ctx, r.ID, evs); err != nil {
				b.Fatal(err)
			}
		}
		var after uint64
		b.ResetTimer()
		for b.Loop() {
			got, err := s.Events(ctx, r.ID, after, 100)
			if err != nil || len(got) == 0 {
				b.Fatal(len(got), err)
			}
			after = (after + 100) % 9900
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
	})
}
