package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// JSONLSink writes each event as one JSON object per line (JSON Lines). It is
// safe for concurrent emitters: lines never interleave. The first write or
// encoding error is kept, later events are dropped, and Err reports it, so a
// full disk does not stall the stages that emit.
type JSONLSink struct {
	mu  sync.Mutex
	w   io.Writer // guarded by mu
	err error     // guarded by mu; first failure
}

// NewJSONLSink returns a sink writing to w. The caller owns w (and closes it
// after Run returns).
func NewJSONLSink(w io.Writer) *JSONLSink {
	return &JSONLSink{w: w}
}

// Emit writes e as one line.
func (s *JSONLSink) Emit(e Event) {
	// Encode outside the lock: the line is built whole, then written with
	// one Write call while holding it.
	line, err := json.Marshal(e)
	if err != nil {
		err = fmt.Errorf("encoding %s event: %w", e.Type, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if err != nil {
		s.err = err
		return
	}
	if _, err := s.w.Write(append(line, '\n')); err != nil {
		s.err = fmt.Errorf("writing events: %w", err)
	}
}

// Err returns the first error met while encoding or writing, if any.
func (s *JSONLSink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
