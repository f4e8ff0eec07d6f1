package llm

import (
	"bytes"
	"io"
)

// usageReport is what a meter learned from one response body.
type usageReport struct {
	model  string
	tokens Tokens
	found  bool // some usage field was present
	// streamError is the error type a provider reported inside a stream.
	streamError string
	// unreadable: the body was too large to inspect, or not valid JSON.
	unreadable bool
}

// meter watches a response body on its way to the guest. Write never fails
// and never blocks the stream; finish is called once at the end.
type meter interface {
	io.Writer
	finish() usageReport
}

// Caps on what a meter holds. A line or event past its cap is skipped, and
// a JSON body past its cap is not inspected: the stream itself is unaffected.
const (
	maxLineBytes  = 1 << 20
	maxEventBytes = 1 << 20
	maxJSONBytes  = 16 << 20
	maxModelBytes = 128
)

// discardMeter is used for endpoints that bill nothing.
type discardMeter struct{}

func (discardMeter) Write(p []byte) (int, error) { return len(p), nil }
func (discardMeter) finish() usageReport         { return usageReport{} }

// lineSplitter cuts a byte stream into lines ending in LF, CRLF or CR (the
// three SSE allows), whatever the chunking. Lines longer than maxLineBytes
// are reported truncated with overflow set.
type lineSplitter struct {
	line     []byte
	overflow bool
	cr       bool // the previous chunk ended in CR: a leading LF is its pair
	onLine   func(line []byte, overflow bool)
}

func (s *lineSplitter) write(p []byte) {
	for len(p) > 0 {
		if s.cr {
			s.cr = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			s.appendPart(p)
			return
		}
		s.appendPart(p[:i])
		s.cr = p[i] == '\r'
		p = p[i+1:]
		s.emit()
	}
}

func (s *lineSplitter) appendPart(p []byte) {
	room := maxLineBytes - len(s.line)
	if len(p) > room {
		p = p[:room]
		s.overflow = true
	}
	s.line = append(s.line, p...)
}

func (s *lineSplitter) emit() {
	s.onLine(s.line, s.overflow)
	s.line = s.line[:0]
	s.overflow = false
}

// flush emits a last line that had no terminator.
func (s *lineSplitter) flush() {
	if len(s.line) > 0 || s.overflow {
		s.emit()
	}
}

// sseMeter follows the SSE framing (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
// and hands each event's data to onData.
type sseMeter struct {
	split        lineSplitter
	data         []byte
	hasData      bool
	dataOverflow bool
	state        usageState
	onData       func(*usageState, []byte)
}

func newSSEMeter(onData func(*usageState, []byte)) *sseMeter {
	m := &sseMeter{onData: onData}
	m.split.onLine = m.line
	return m
}

func (m *sseMeter) Write(p []byte) (int, error) {
	m.split.write(p)
	return len(p), nil
}

func (m *sseMeter) line(line []byte, overflow bool) {
	if overflow {
		m.dataOverflow = true
		return
	}
	if len(line) == 0 {
		m.dispatch()
		return
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		value = bytes.TrimPrefix(value, []byte(" "))
	}
	if string(field) != "data" {
		return // comments (field ""), event, id, retry
	}
	if len(m.data)+len(value)+1 > maxEventBytes {
		m.dataOverflow = true
		return
	}
	if m.hasData {
		m.data = append(m.data, '\n')
	}
	m.data = append(m.data, value...)
	m.hasData = true
}

func (m *sseMeter) dispatch() {
	if m.hasData && !m.dataOverflow {
		m.onData(&m.state, m.data)
	}
	m.data = m.data[:0]
	m.hasData = false
	m.dataOverflow = false
}

// finish also dispatches an event cut off by the end of the stream: the
// provider has billed it even if the client drops it.
func (m *sseMeter) finish() usageReport {
	m.split.flush()
	m.dispatch()
	return m.state.report
}

// ndjsonMeter hands each line of a newline-delimited JSON stream to onLine.
type ndjsonMeter struct {
	split  lineSplitter
	state  usageState
	onLine func(*usageState, []byte)
}

func newNDJSONMeter(onLine func(*usageState, []byte)) *ndjsonMeter {
	m := &ndjsonMeter{onLine: onLine}
	m.split.onLine = func(line []byte, overflow bool) {
		if !overflow && len(bytes.TrimSpace(line)) > 0 {
			m.onLine(&m.state, line)
		}
	}
	return m
}

func (m *ndjsonMeter) Write(p []byte) (int, error) {
	m.split.write(p)
	return len(p), nil
}

func (m *ndjsonMeter) finish() usageReport {
	m.split.flush()
	return m.state.report
}

// jsonMeter keeps a whole (non-streamed) JSON body and reads it at the end.
type jsonMeter struct {
	buf      []byte
	overflow bool
	state    usageState
	parse    func(*usageState, []byte)
}

func (m *jsonMeter) Write(p []byte) (int, error) {
	if !m.overflow {
		if len(m.buf)+len(p) > maxJSONBytes {
			m.overflow = true
			m.buf = nil
		} else {
			m.buf = append(m.buf, p...)
		}
	}
	return len(p), nil
}

func (m *jsonMeter) finish() usageReport {
	if m.overflow {
		m.state.report.unreadable = true
		return m.state.report
	}
	m.parse(&m.state, m.buf)
	return m.state.report
}
