package streamjson

import (
	"bufio"
	"errors"
	"io"

	"github.com/voidbox/voidbox/internal/event"
)

// ParseStream reads stream-json lines from r until EOF, passing events to
// emit, and returns what the stream reported. Malformed and oversize lines
// are counted in the Result and skipped; the only error is one from
// reading r, and even then the events so far, a closing agent.finished
// included, have been emitted and the Result is returned.
func ParseStream(r io.Reader, emit func(event.Data)) (*Result, error) {
	p := NewParser(emit)
	err := eachLine(r, MaxLine, func(line []byte) { _ = p.Line(line) }, func() { p.res.Oversize++ })
	return p.Close(), err
}

// eachLine calls fn for every line of r up to limit bytes and tooLong for
// every longer line, which it discards without buffering it whole. A last
// line without a newline counts.
func eachLine(r io.Reader, limit int, fn func([]byte), tooLong func()) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case skipping:
		case len(buf)+len(chunk) > limit+1: // +1: the newline itself
			skipping, buf = true, buf[:0]
		default:
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if skipping {
			tooLong()
			skipping = false
		} else if len(buf) > 0 {
			fn(buf)
		}
		buf = buf[:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
