package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestFSTornTail: a crash in the middle of a write leaves a partial last
// line; reopening keeps every whole event and numbers the next one after
// them. The same damage in a finished run's stream is reported, not hidden.
func TestFSTornTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenFS(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	live, _, _ := s.CreateRun(ctx, NewRun{Name: "live", Kind: "pipeline"})
	done, _, _ := s.CreateRun(ctx, NewRun{Name: "done", Kind: "pipeline"})
	for _, id := range []string{live.ID, done.ID} {
		if _, err := s.AppendEvents(ctx, id, []Event{{Type: "a"}, {Type: "b"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateRun(ctx, done.ID, RunUpdate{Status: RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, id := range []string{live.ID, done.ID} {
		f, err := os.OpenFile(filepath.Join(dir, "runs", id, "events.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"seq":3,"type":"c","ti`)
		f.Close()
	}
	s, err = OpenFS(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last, err := s.AppendEvents(ctx, live.ID, []Event{{Type: "c"}})
	if err != nil || last != 3 {
		t.Fatalf("append after a torn tail: last %d, %v", last, err)
	}
	evs, err := s.Events(ctx, live.ID, 0, 10)
	if err != nil || len(evs) != 3 || evs[2].Type != "c" {
		t.Fatalf("events after repair: %+v, %v", evs, err)
	}
	if _, err := s.Events(ctx, done.ID, 0, 10); !errors.Is(err, ErrInvalid) {
		t.Fatalf("damaged finished stream: %v, want ErrInvalid", err)
	}
}

// TestFSOpenRefusesUnknownFormat: a directory from another format version is
// not silently reused.
func TestFSOpenRefusesUnknownFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("voidbox-fs-store 9\n"), 0o600)
	if _, err := OpenFS(context.Background(), dir); !errors.Is(err, ErrInvalid) {
		t.Fatalf("open of format 9: %v", err)
	}
}
