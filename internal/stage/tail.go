package stage

import (
	"bytes"
	"strings"
	"unicode"
)

// Bounds of the stderr tail a failed stage reports.
const (
	tailLines = 10      // last lines kept
	tailBytes = 4 << 10 // bytes kept before splitting into lines
)

// tailWriter keeps the last tailBytes written to it: a failed stage's
// report shows the end of its stderr, which is where programs say why.
type tailWriter struct {
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if extra := len(w.buf) - tailBytes; extra > 0 {
		w.buf = append(w.buf[:0], w.buf[extra:]...)
	}
	return len(p), nil
}

// lines returns the last tailLines non-empty lines, with control characters
// (a guest's escape sequences) removed. The first may be cut short.
func (w *tailWriter) lines() []string {
	var out []string
	for _, l := range bytes.Split(w.buf, []byte("\n")) {
		s := strings.TrimRightFunc(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) && r != '\t' {
				return -1
			}
			return r
		}, string(l)), unicode.IsSpace)
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) > tailLines {
		out = out[len(out)-tailLines:]
	}
	return out
}

// last is the last non-empty line, or "".
func (w *tailWriter) last() string {
	if l := w.lines(); len(l) > 0 {
		return l[len(l)-1]
	}
	return ""
}
