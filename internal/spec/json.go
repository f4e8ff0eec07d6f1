package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxJSONDepth bounds nesting in JSON specs. Real specs nest a handful of
// levels; the bound keeps the recursive builder's stack small.
const maxJSONDepth = 1000

// parseJSON builds the same node tree as parseYAML from JSON, with positions.
// It does not feed JSON to the YAML parser because yaml.v3 rejects valid JSON
// escapes ("\/" and UTF-16 surrogate pairs).
func parseJSON(data []byte, probs *problems) *yamlNode {
	data = bytes.TrimPrefix(data, utf8BOM)
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err == nil {
		off := p.next()
		if _, extra := p.dec.Token(); !errors.Is(extra, io.EOF) {
			err = p.errorAt(off, "unexpected data after the top-level value")
		}
	}
	if err != nil {
		var pe *jsonPosError
		if !errors.As(err, &pe) {
			pe = p.wrap(err)
		}
		probs.add(pe.line, pe.col, "", "invalid JSON: "+pe.msg)
		return nil
	}
	return n
}

type jsonParser struct {
	data []byte
	dec  *json.Decoder
}

type jsonPosError struct {
	line, col int
	msg       string
}

func (e *jsonPosError) Error() string { return e.msg }

// next returns the offset where the next token starts: the decoder's offset
// is the end of the previous token, and separators are consumed lazily.
func (p *jsonParser) next() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return off
}

// pos turns a byte offset into a 1-based line and a 1-based column counted
// in characters, as yaml.v3 counts them.
func (p *jsonParser) pos(off int) (line, col int) {
	off = min(max(off, 0), len(p.data))
	before := p.data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}

func (p *jsonParser) errorAt(off int, format string, args ...any) error {
	line, col := p.pos(off)
	return &jsonPosError{line: line, col: col, msg: fmt.Sprintf(format, args...)}
}

// wrap positions an error from encoding/json at the token that failed: the
// decoder stops there. (SyntaxError.Offset is not used: in token mode it is
// relative to an internal buffer, not to the input.)
func (p *jsonParser) wrap(err error) *jsonPosError {
	off, msg := p.next(), err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		off, msg = len(p.data), "unexpected end of input"
	}
	line, col := p.pos(off)
	return &jsonPosError{line: line, col: col, msg: msg}
}

func (p *jsonParser) value(depth int) (*yamlNode, error) {
	start := p.next()
	if depth > maxJSONDepth {
		return nil, p.errorAt(start, "nesting deeper than %d levels", maxJSONDepth)
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	line, col := p.pos(start)
	n := &yamlNode{Line: line, Column: col, Kind: yaml.ScalarNode}
	switch t := tok.(type) {
	case json.Delim:
		return p.container(n, t, depth)
	case string:
		n.Tag, n.Value, n.Style = "!!str", t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Tag, n.Value = "!!int", t.String()
		if strings.ContainsAny(n.Value, ".eE") {
			n.Tag = "!!float"
		}
	case bool:
		n.Tag, n.Value = "!!bool", fmt.Sprint(t)
	case nil:
		n.Tag, n.Value = "!!null", "null"
	}
	return n, nil
}

func (p *jsonParser) container(n *yamlNode, open json.Delim, depth int) (*yamlNode, error) {
	n.Kind, n.Tag, n.Style = yaml.SequenceNode, "!!seq", yaml.FlowStyle
	if open == '{' {
		n.Kind, n.Tag = yaml.MappingNode, "!!map"
	}
	for p.dec.More() {
		if n.Kind == yaml.MappingNode {
			k, err := p.value(depth + 1) // a string: the decoder rejects other keys
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, k)
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, v)
	}
	if _, err := p.dec.Token(); err != nil { // the closing delimiter
		return nil, err
	}
	return n, nil
}
