package execjson

import (
	"bufio"
	"errors"
	"io"

	"github.com/voidbox/voidbox/internal/event"
)

// ParseStream reads lines from r until EOF, passing events to emit, and
// returns what the stream reported. Malformed and oversize lines are
// counted in the Result and skipped; the only error is one from reading r,
// and even then the events so far, a closing agent.finished included, have
// been emitted.
func ParseStream(r io.Reader, emit func(event.Data), o Options) (*Result, error) {
	p := NewParser(emit, o)
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case skipping:
		case len(buf)+len(chunk) > MaxLine+1: // +1: the newline itself
			skipping, buf = true, buf[:0]
		default:
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if skipping {
			p.res.Oversize++
			skipping = false
		} else if len(buf) > 0 {
			_ = p.Line(buf) // counted in the Result
		}
		buf = buf[:0]
		if err == io.EOF {
			return p.Close(), nil
		}
		if err != nil {
			return p.Close(), err
		}
	}
}
