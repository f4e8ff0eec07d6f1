package oci

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// meter reports a pull's layers: on a terminal one bar per layer redrawn in
// place every 100 ms (ECMA-48 cursor-up and erase-below, as package
// progress draws its stage block); otherwise one line when a layer starts
// and one when it ends, which reads well in CI logs.
type meter struct {
	w      io.Writer // nil: silent
	live   bool
	title  string
	layers []*layerMeter

	mu    sync.Mutex // serialises writes to w
	drawn int        // lines of the last live frame; guarded by mu

	stop chan struct{}
	wg   sync.WaitGroup // the redraw goroutine
	once sync.Once
}

// layerMeter is one layer's state. Its methods are safe on a nil pointer.
type layerMeter struct {
	m       *meter
	n, of   int
	digest  string
	size    int64
	got     atomic.Int64
	state   atomic.Value // string: waiting, downloading, done, cached, failed
	started time.Time
}

func newMeter(w io.Writer, title string, layers []Layer) *meter {
	m := &meter{w: w, title: title, stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		m.live = true
	}
	for i, l := range layers {
		lm := &layerMeter{m: m, n: i + 1, of: len(layers), digest: l.Digest, size: l.Size}
		lm.state.Store("waiting")
		m.layers = append(m.layers, lm)
	}
	if w != nil {
		line(m.lockedW(), "pulling %s: %d layers", title, len(layers))
	}
	if m.live {
		m.wg.Add(1)
		go m.loop()
	}
	return m
}

func (m *meter) layer(i int) *layerMeter { return m.layers[i] }

func (m *meter) loop() {
	defer m.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.redraw()
		}
	}
}

// close stops the redraw goroutine, waits for it and draws the last frame.
// It is safe to call more than once.
func (m *meter) close() {
	m.once.Do(func() {
		close(m.stop)
		m.wg.Wait()
		if m.live {
			m.redraw()
		}
	})
}

func (m *meter) redraw() {
	var b bytes.Buffer
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", m.drawn)
	}
	b.WriteString("\r\x1b[J")
	for _, l := range m.layers {
		b.WriteString(l.bar())
		b.WriteByte('\n')
	}
	m.drawn = len(m.layers)
	_, _ = m.w.Write(b.Bytes())
}

// bar is "  sha256:0123456789ab  [#####.....]  12.3 MB / 24.6 MB  downloading".
func (l *layerMeter) bar() string {
	const width = 24
	got, state := l.got.Load(), l.state.Load().(string)
	fill := width
	if l.size > 0 && state != "done" && state != "cached" {
		fill = int(min(got, l.size) * width / l.size)
	}
	return fmt.Sprintf("  %s  [%s%s]  %s / %s  %s", ShortDigest(l.digest), strings.Repeat("#", fill),
		strings.Repeat(".", width-fill), HumanBytes(got), HumanBytes(l.size), state)
}

// lockedW serialises plain lines from concurrent layers.
func (m *meter) lockedW() io.Writer { return writerFunc(m.write) }

func (m *meter) write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.w.Write(p)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (l *layerMeter) plain(format string, args ...any) {
	if l.m.w == nil || l.m.live {
		return
	}
	prefix := fmt.Sprintf("  layer %d/%d %s (%s): ", l.n, l.of, ShortDigest(l.digest), HumanBytes(l.size))
	line(l.m.lockedW(), prefix+format, args...)
}

func (l *layerMeter) start() {
	if l == nil {
		return
	}
	l.started = time.Now()
	l.state.Store("downloading")
	l.plain("downloading")
}

func (l *layerMeter) cached() {
	if l == nil {
		return
	}
	l.got.Store(l.size)
	l.state.Store("cached")
	l.plain("already in the cache")
}

func (l *layerMeter) done() {
	if l == nil {
		return
	}
	l.state.Store("done")
	l.plain("done in %s", time.Since(l.started).Round(10*time.Millisecond))
}

func (l *layerMeter) fail() {
	if l == nil {
		return
	}
	l.state.Store("failed")
	l.plain("failed")
}

// Write counts downloaded bytes.
func (l *layerMeter) Write(p []byte) (int, error) {
	l.got.Add(int64(len(p)))
	return len(p), nil
}
