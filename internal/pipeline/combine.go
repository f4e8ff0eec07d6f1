package pipeline

import (
	"bytes"
	"encoding/json"
)

// CombineArray joins outputs, in the order given, into one JSON array.
// Each element is embedded as:
//
//   - the output itself (compacted) when it is valid JSON, so a stage that
//     writes {"score": 3} contributes an object, not a string;
//   - null when the output is empty or only white space (the stage
//     produced nothing);
//   - otherwise a JSON string holding the output as text, with bytes that
//     are not valid UTF-8 replaced by U+FFFD.
//
// Consumers that need the exact bytes of a non-JSON output should make their
// stages write JSON.
func CombineArray(outputs [][]byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, out := range outputs {
		if i > 0 {
			buf.WriteByte(',')
		}
		appendValue(&buf, out)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

func appendValue(buf *bytes.Buffer, out []byte) {
	if len(bytes.TrimSpace(out)) == 0 {
		buf.WriteString("null")
		return
	}
	if json.Valid(out) {
		// Compact cannot fail on valid JSON.
		_ = json.Compact(buf, out)
		return
	}
	// Encoding a string never fails; it escapes and repairs UTF-8. HTML
	// escaping (<, >, & as \u003c...) would only obscure stage output.
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(out))
	buf.Truncate(buf.Len() - 1) // Encode's trailing newline
}

// combine builds a node's (or the run's) input from upstream outputs.
func combine(mode CombineMode, outputs [][]byte) []byte {
	if mode == InputArray {
		return CombineArray(outputs)
	}
	if len(outputs) == 0 {
		return nil
	}
	return outputs[0]
}
