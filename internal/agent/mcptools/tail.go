package mcptools

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// tail keeps the last bytes written to it: a server's stderr, for error
// messages. The server's stderr copier writes while an error path reads.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte // guarded by mu
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, trimmed, starting on a rune boundary.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	return strings.TrimSpace(string(b))
}
