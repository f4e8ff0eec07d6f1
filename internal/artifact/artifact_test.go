package artifact

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckAndVerify(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", strings.Repeat("x", 2000))
	write("b", "bbb")
	s, err := StampAll(dir, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(dir); err != nil {
		t.Fatalf("intact: %v", err)
	}
	if err := s.Verify(dir); err != nil {
		t.Fatalf("intact: %v", err)
	}
	// Truncated (a crash or a full disk), removed, and rewritten with the same size.
	if err := os.Truncate(filepath.Join(dir, "a"), 1000); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "b"))
	err = s.Check(dir)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "1000 bytes, 2000 bytes recorded") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("check: %v", err)
	}
	if got := Damaged(err); len(got) != 2 || got[0] != filepath.Join(dir, "a") {
		t.Fatalf("Damaged = %v", got)
	}
	write("b", "ccc")
	if err := s["b"].Check(filepath.Join(dir, "b")); !errors.Is(err, ErrDamaged) {
		t.Fatalf("same size, new mtime passes the quick check: %v", err)
	}
	if err := s["b"].Verify(filepath.Join(dir, "b")); err == nil || !strings.Contains(err.Error(), "content") {
		t.Fatalf("same size, other content passes verify: %v", err)
	}
	// A touch alone fails the quick check but not the digest.
	write("b", "bbb")
	now := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "b"), now, now)
	if err := s["b"].Verify(filepath.Join(dir, "b")); err != nil {
		t.Fatalf("touched: %v", err)
	}
}
