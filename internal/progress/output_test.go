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

// FuzzClean checks that no guest text survives clean with a control or bidi
// character in it, and that the line buffer never loses or invents bytes.
func FuzzClean(f *testing.F) {
	f.Add("plain\n", "\x1b[31mred\x1b[0m")
	f.Add("\u009b2J", "a\r\nb\x00c\u202e")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, r := range clean(a + b) {
			if r == 0x1b || r < 0x20 || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("clean(%q) kept %U", a+b, r)
			}
		}
		var lb lineBuffer
		lines := append(lb.feed("stdout", a), lb.feed("stdout", b)...)
		_, rest := lb.flush()
		joined := strings.Join(lines, "\n")
		if len(lines) > 0 && len(rest) > 0 {
			joined += "\n"
		}
		joined += strings.Join(rest, "")
		// Cuts at maxPartial add no newline in the input, so compare with
		// newlines removed.
		if strings.ReplaceAll(joined, "\n", "") != strings.ReplaceAll(a+b, "\n", "") {
			t.Fatalf("line buffer changed %q into %q", a+b, joined)
		}
	})
}
