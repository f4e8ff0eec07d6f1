package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// errBadBody marks a guest body the gateway refuses to forward (400).
var errBadBody = errors.New("bad request body")

// jsonObject is a guest's top-level JSON object with its keys in order and
// values kept as raw bytes, so the gateway can read and adjust a few fields
// and re-send everything else untouched.
type jsonObject struct {
	keys []string
	vals map[string]json.RawMessage
}

// parseObject accepts exactly one JSON object. Duplicate top-level keys are
// refused: the gateway and the provider could otherwise disagree about which
// "model" or "stream" counts, and accounting would lie.
func parseObject(b []byte) (*jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadBody, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", errBadBody)
	}
	obj := &jsonObject{vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadBody, err)
		}
		key, ok := tok.(string)
		if !ok { // the decoder guarantees object keys are strings
			return nil, fmt.Errorf("%w: object key is not a string", errBadBody)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: field %q: %w", errBadBody, key, err)
		}
		if _, dup := obj.vals[key]; dup {
			return nil, fmt.Errorf("%w: duplicate field %q", errBadBody, key)
		}
		obj.keys = append(obj.keys, key)
		obj.vals[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("%w: %w", errBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errBadBody)
	}
	return obj, nil
}

// set replaces or appends a field.
func (o *jsonObject) set(key string, raw json.RawMessage) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = raw
}

// encode writes the object back with its original key order.
func (o *jsonObject) encode() []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k) // a string always marshals
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(o.vals[k])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// stringField returns a string field; absent or null is ("", false, nil).
func (o *jsonObject) stringField(key string) (string, bool, error) {
	raw, ok := o.vals[key]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: field %q is not a string", errBadBody, key)
	}
	return s, true, nil
}

// boolField returns a bool field; absent or null is (false, false, nil).
func (o *jsonObject) boolField(key string) (bool, bool, error) {
	raw, ok := o.vals[key]
	if !ok || string(raw) == "null" {
		return false, false, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, false, fmt.Errorf("%w: field %q is not a boolean", errBadBody, key)
	}
	return v, true, nil
}
