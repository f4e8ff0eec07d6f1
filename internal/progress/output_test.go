package progress

import (
	"slices"
	"strings"
	"testing"
)

func TestLineBufferSplitsChunks(t *testing.T) {
	var b lineBuffer
	if got := b.feed("stdout", "hel"); len(got) != 0 {
		t.Errorf("partial chunk produced lines %q", got)
	}
	if got := b.feed("stderr", "oops\n"); !slices.Equal(got, []string{"oops"}) {
		t.Errorf("stderr lines = %q", got)
	}
	if got := b.feed("stdout", "lo\nworld\n\nta"); !slices.Equal(got, []string{"hello", "world", ""}) {
		t.Errorf("stdout lines = %q", got)
	}
	long := strings.Repeat("x", maxPartial*2+10)
	if got := b.feed("stdout", long); len(got) != 2 || got[0] != "ta"+long[:maxPartial-2] {
		t.Errorf("a line without newline is not cut at %d bytes: %d lines", maxPartial, len(got))
	}
	streams, rest := b.flush()
	if !slices.Equal(streams, []string{"stdout"}) || len(rest[0]) != 12 {
		t.Errorf("flush = %q, %d bytes", streams, len(rest[0]))
	}
	if s, l := b.flush(); s != nil || l != nil {
		t.Errorf("second flush = %q %q", s, l)
	}
}

func TestCleanStripsControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"a\tb":                    "a b",
		"two\nlines\n":            "two; lines",
		"\x1b[2J\x1b]0;title\x07": "[2J]0;title",
		"c1\u009bcsi":             "c1csi",
		"bidi\u202eevil":          "bidievil",
		"crlf\r\n":                "crlf",
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
