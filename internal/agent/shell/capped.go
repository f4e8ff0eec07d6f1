package shell

import (
	"fmt"
	"sync"
)

// capped keeps the first and last halves of what is written to it, up to
// limit bytes in all, and counts what it drops in between. Models need the
// start (what ran) and the end (how it failed) of long output.
type capped struct {
	mu      sync.Mutex
	limit   int
	head    []byte // guarded by mu: up to limit/2 bytes
	tail    []byte // guarded by mu: ring of the last limit-limit/2 bytes
	tailPos int    // guarded by mu: next write index in tail once full
	total   int64  // guarded by mu
}

func newCapped(limit int) *capped { return &capped{limit: limit} }

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	headCap := c.limit / 2
	if room := headCap - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	tailCap := c.limit - headCap
	for len(p) > 0 {
		if len(c.tail) < tailCap {
			k := min(tailCap-len(c.tail), len(p))
			c.tail = append(c.tail, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(c.tail[c.tailPos:], p)
		c.tailPos = (c.tailPos + k) % tailCap
		p = p[k:]
	}
	return n, nil
}

// result returns the kept output, with a marker where bytes were dropped,
// and how many were dropped.
func (c *capped) result() (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := append(append([]byte(nil), c.tail[c.tailPos:]...), c.tail[:c.tailPos]...)
	omitted := c.total - int64(len(c.head)) - int64(len(tail))
	if omitted <= 0 {
		return string(c.head) + string(tail), 0
	}
	return fmt.Sprintf("%s\n[… %d bytes omitted …]\n%s", c.head, omitted, tail), omitted
}
