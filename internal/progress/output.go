package progress

import (
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/voidbox/voidbox/internal/event"
)

// maxPartial bounds a buffered partial line: a stage that writes without
// newlines gets its output shown in pieces instead of held forever.
const maxPartial = 4096

// lineBuffer splits a stage's output chunks into lines, per stream.
type lineBuffer struct {
	partial map[string]string // stream → text after the last newline
}

// feed adds a chunk and returns the lines it completed.
func (b *lineBuffer) feed(stream, data string) []string {
	if b.partial == nil {
		b.partial = map[string]string{}
	}
	text := b.partial[stream] + data
	lines := strings.Split(text, "\n")
	rest := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	for len(rest) > maxPartial {
		lines = append(lines, rest[:maxPartial])
		rest = rest[maxPartial:]
	}
	b.partial[stream] = rest
	return lines
}

// flush returns what is left of each stream, by stream name, and empties
// the buffer.
func (b *lineBuffer) flush() (streams, lines []string) {
	for _, s := range slices.Sorted(maps.Keys(b.partial)) {
		if text := b.partial[s]; text != "" {
			streams, lines = append(streams, s), append(lines, text)
		}
	}
	b.partial = nil
	return streams, lines
}

// clean makes untrusted text safe to print on one terminal line: line breaks
// become "; ", tabs a space, and every other control character (ESC
// included, so no escape sequence survives) and bidi control is dropped.
func clean(s string) string {
	s = strings.TrimRight(s, "\r\n")
	s = strings.ReplaceAll(s, "\n", "; ")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}

// Clean is clean for callers printing untrusted text (a daemon run's
// error) in a table: one line, no control characters, at most max bytes.
func Clean(s string, max int) string { return event.Truncate(clean(s), max) }
