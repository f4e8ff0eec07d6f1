package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (qemu) x (y)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000 50 18446744073709551615\n"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 300 * clockTick; got != want {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	if _, err := parseStat([]byte("1 (x) S 1 2")); err == nil {
		t.Error("short line accepted")
	}
}

func TestReadSelf(t *testing.T) {
	// Burn a little CPU so the reading is not zero, then read ourselves.
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) {
	}
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU <= 0 || s.RSS < 1<<20 {
		t.Errorf("implausible sample of this test process: %+v", s)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Error("reading a pid that cannot exist succeeded")
	}
}

func TestCPUPercent(t *testing.T) {
	a, b := Sample{CPU: time.Second}, Sample{CPU: 2500 * time.Millisecond}
	if p := b.CPUPercent(a, time.Second); p != 150 {
		t.Errorf("percent = %v, want 150", p)
	}
	if p := a.CPUPercent(b, time.Second); p != 0 {
		t.Errorf("a counter going backwards gave %v", p)
	}
}
