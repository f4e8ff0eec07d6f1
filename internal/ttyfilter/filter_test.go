package ttyfilter

import (
	"bytes"
	"strings"
	"testing"
)

func run(in string) string {
	var out bytes.Buffer
	f := New(&out)
	f.Write([]byte(in))
	return out.String()
}

func TestFilter(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"text and C0", "hello\r\n\tbell\a\bx", "hello\r\n\tbell\a\bx"},
		{"UTF-8", "héllo ✓ 日本", "héllo ✓ 日本"},
		{"colours", "\x1b[1;31mred\x1b[0m", "\x1b[1;31mred\x1b[0m"},
		{"cursor and erase", "\x1b[2J\x1b[H\x1b[10;5Hx\x1b[K", "\x1b[2J\x1b[H\x1b[10;5Hx\x1b[K"},
		{"cursor position query passes", "\x1b[6n", "\x1b[6n"},
		{"alt screen", "\x1b[?1049h", "\x1b[?1049h"},
		{"charset designation", "\x1b(B\x1b)0", "\x1b(B\x1b)0"},
		{"save restore, keypad", "\x1b7\x1b8\x1b=\x1b>", "\x1b7\x1b8\x1b=\x1b>"},
		{"title with BEL becomes ST", "\x1b]0;my title\a", "\x1b]0;my title\x1b\\"},
		{"title with ST", "\x1b]2;t\x1b\\", "\x1b]2;t\x1b\\"},
		{"hyperlink", "\x1b]8;;https://x.test/\x1b\\link\x1b]8;;\x1b\\", "\x1b]8;;https://x.test/\x1b\\link\x1b]8;;\x1b\\"},
		{"OSC 52 clipboard write", "a\x1b]52;c;aGVsbG8=\ab", "ab"},
		{"OSC 52 clipboard read", "a\x1b]52;c;?\x1b\\b", "ab"},
		{"colour query", "a\x1b]11;?\ab", "ab"},
		{"palette change", "a\x1b]4;1;rgb:ff/00/00\ab", "ab"},
		{"iTerm file", "a\x1b]1337;File=inline=1:AAAA\ab", "ab"},
		{"title report (XTWINOPS 21)", "a\x1b[21tb", "ab"},
		{"window move", "a\x1b[3;0;0tb", "ab"},
		{"DCS request status string", "a\x1bP$qm\x1b\\b", "ab"},
		{"tmux passthrough", "a\x1bPtmux;\x1b\x1b]52;c;eA==\a\x1b\\b", "ab"},
		{"APC kitty graphics", "a\x1b_Gf=100;AAAA\x1b\\b", "ab"},
		{"PM and SOS", "a\x1b^x\x1b\\\x1bXy\x1b\\b", "ab"},
		{"C1 CSI in UTF-8", "a\u009b6nb", "a6nb"},
		{"C1 OSC in UTF-8", "a\u009d52;c;?\u009cb", "a52;c;?b"},
		{"U+00A0 is text", "a\u00a0b", "a\u00a0b"},
		{"CAN aborts CSI", "a\x1b[31\x18b", "ab"},
		{"ESC restarts", "a\x1b[3\x1b[1mb", "a\x1b[1mb"},
		{"overlong OSC dropped to BEL", "a\x1b]0;" + strings.Repeat("x", MaxOSC) + "\ab", "ab"},
		{"overlong CSI dropped", "a\x1b[" + strings.Repeat("1;", MaxCSI) + "m" + "\x1b\\b", "ab"},
		{"unterminated OSC then ESC", "a\x1b]52;c;x\x1bc", "a\x1bc"},
	} {
		if got := run(c.in); got != c.want {
			t.Errorf("%s: %q → %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// Split anywhere, a stream filters the same as in one piece.
func TestFilterSplitWrites(t *testing.T) {
	in := "x\x1b]0;title\a\x1b]52;c;?\a\x1b[1;32mgreen\u009b\x1bP+q\x1b\\\x1b[21t\x1b]8;;u\x1b\\é✓"
	want := run(in)
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			var out bytes.Buffer
			f := New(&out)
			f.Write([]byte(in[:i]))
			f.Write([]byte(in[i:j]))
			f.Write([]byte(in[j:]))
			if out.String() != want {
				t.Fatalf("split at %d,%d: %q, want %q", i, j, out.String(), want)
			}
		}
	}
}

func TestRestore(t *testing.T) {
	var out bytes.Buffer
	f := New(&out)
	if got := string(f.Restore()); got != "\x1b[0m" {
		t.Errorf("untouched terminal: %q", got)
	}
	f.Write([]byte("\x1b[?1049h\x1b[?25l\x1b[?1000;1006h\x1b[?2004h\x1b=\x1b[5;20r\x1b[2 q\x1b[>1u\x1b[?7l\x1b[?12345h\x1b]0;x"))
	got := string(f.Restore())
	want := "\x18\x1b[?1049l\x1b[?7h\x1b[?25h\x1b[?1000l\x1b[?1006l\x1b[?2004l\x1b>\x1b7\x1b[r\x1b8\x1b[0 q\x1b[<u\x1b[0m"
	if got != want {
		t.Errorf("restore:\n got %q\nwant %q", got, want)
	}
	// A mode turned on and off again needs nothing.
	f = New(&out)
	f.Write([]byte("\x1b[?2004h\x1b[?2004l"))
	if got := string(f.Restore()); got != "\x1b[0m" {
		t.Errorf("mode set and reset: %q", got)
	}
}

func FuzzFilter(f *testing.F) {
	f.Add([]byte("\x1b]52;c;?\a\x1b[21t\x1bPtmux;\x1b\\"))
	f.Add([]byte("\x1b[?1049h\x1b]0;t\x1b\\\u009b"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := run(string(in))
		// Nothing that can reach beyond the screen gets out, however the
		// input is mangled.
		for _, bad := range []string{"\x1b]52", "\x1b]4;", "\x1b]11", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\xc2\x9b", "\xc2\x9d", "\xc2\x90"} {
			if strings.Contains(out, bad) {
				t.Fatalf("%q passed %q: %q", in, bad, out)
			}
		}
		if i := strings.Index(out, "\x1b["); i >= 0 {
			// No CSI sequence ending in 't'.
			for rest := out; ; {
				j := strings.Index(rest, "\x1b[")
				if j < 0 {
					break
				}
				rest = rest[j+2:]
				k := strings.IndexFunc(rest, func(r rune) bool { return r >= 0x40 && r <= 0x7e })
				if k >= 0 && rest[k] == 't' && !strings.ContainsAny(rest[:k], "\x1b\x18\x1a") {
					t.Fatalf("%q passed a window op: %q", in, out)
				}
				if k < 0 {
					break
				}
			}
		}
	})
}
