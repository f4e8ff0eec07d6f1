package wire

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON encodes v as the payload of a frame of type t.
func WriteJSON(w io.Writer, t Type, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", t, err)
	}
	return WriteFrame(w, t, b)
}

// Decode unmarshals a control frame's JSON payload into v.
func (f Frame) Decode(v any) error {
	if err := json.Unmarshal(f.Payload, v); err != nil {
		return fmt.Errorf("decoding %s: %w", f.Type, err)
	}
	return nil
}

// Expect reads the next frame and checks its type. An Error frame is returned
// as *Error so callers can surface the peer's message.
func (r *Reader) Expect(want ...Type) (Frame, error) {
	f, err := r.ReadFrame()
	if err != nil {
		return Frame{}, err
	}
	for _, t := range want {
		if f.Type == t {
			return f, nil
		}
	}
	if f.Type == TError {
		var e Error
		if err := f.Decode(&e); err != nil {
			return Frame{}, err
		}
		return Frame{}, &e
	}
	return Frame{}, fmt.Errorf("unexpected %s frame (want %v)", f.Type, want)
}
