package event

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Decode parses one line of the event stream into a pointer to one of the
// event structs of this package. Lines longer than MaxLine, unknown types
// and fields of the wrong type are ErrMalformed.
func Decode(line []byte) (any, error) {
	line = bytes.TrimSpace(line)
	if len(line) > MaxLine {
		return nil, fmt.Errorf("%w: line of %d bytes exceeds %d", ErrMalformed, len(line), MaxLine)
	}
	var h Header
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var ev any
	switch h.Type {
	case TypeStarted:
		ev = &Started{}
	case TypeTurn:
		ev = &Turn{}
	case TypeToolCall:
		ev = &ToolCall{}
	case TypeDenied:
		ev = &Denied{}
	case TypeFinished:
		ev = &Finished{}
	default:
		return nil, fmt.Errorf("%w: unknown type %q", ErrMalformed, Truncate(h.Type, 64))
	}
	if err := json.Unmarshal(line, ev); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, h.Type, err)
	}
	return ev, nil
}
