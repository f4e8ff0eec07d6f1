package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DecodeJSON reads a request body of Content-Type application/json into v:
// one value, no unknown fields, nothing after it. Errors are *Error: 415 for
// another type, 413 over the server's body cap, 408 when the client is too
// slow to send it, 400 for bad JSON, with line:col and the field at fault.
func DecodeJSON(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type",
			"want application/json, got %q", r.Header.Get("Content-Type"))
	}
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	return decodeJSONBytes(body, v)
}

// ReadBody reads the whole body, mapping the cap and timeouts to *Error.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		return nil, Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "", "body over %d bytes", tooBig.Limit)
	case errors.As(err, &ne) && ne.Timeout():
		return nil, Errorf(http.StatusRequestTimeout, CodeTimeout, "", "body not received in time")
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, CodeInvalid, "", "reading body: %v", err)
	}
	return body, nil
}

func decodeJSONBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return Errorf(http.StatusBadRequest, CodeInvalid, "", "body: %s: data after the JSON value",
				lineCol(body, dec.InputOffset()))
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, CodeInvalid, "", "body: empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, CodeInvalid, "", "body: %s: unexpected end", lineCol(body, int64(len(body))))
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		return Errorf(http.StatusBadRequest, CodeInvalid, "", "body: %s: %s", lineCol(body, syn.Offset-1), syn.Error())
	case errors.As(err, &typ):
		return Errorf(http.StatusBadRequest, CodeInvalid, typ.Field, "%s: want %s, got %s",
			lineCol(body, valueStart(body, typ.Offset)), typ.Type, typ.Value)
	}
	// The decoder words unknown fields as: json: unknown field "name".
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ := strconv.Unquote(name)
		return Errorf(http.StatusBadRequest, CodeInvalid, f, "unknown field")
	}
	return Errorf(http.StatusBadRequest, CodeInvalid, "", "body: %v", err)
}

// valueStart finds where the value ends at byte off starts: a type error's
// offset is the end of a scalar, or just past the bracket of an object or
// array, which is the end of that value's first token either way. The body
// decoded up to there, so its tokens are well formed.
func valueStart(body []byte, off int64) int64 {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		prev := dec.InputOffset()
		if _, err := dec.Token(); err != nil {
			return off
		}
		end := dec.InputOffset()
		if end == off {
			// Token's span starts with the separators before it.
			for prev < end && strings.IndexByte(" \t\r\n:,", body[prev]) >= 0 {
				prev++
			}
			return prev
		}
		if end > off {
			return off
		}
	}
}

// lineCol gives a byte offset as 1-based line:column.
func lineCol(b []byte, off int64) string {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int64(len(before)-bytes.LastIndexByte(before, '\n')-1) + 1
	return fmt.Sprintf("%d:%d", line, col)
}

// ParseEventID reads an event id as the API writes them: decimal, no sign,
// no spaces, at most 20 digits, fitting a uint64.
func ParseEventID(s string) (uint64, bool) {
	if s == "" || len(s) > 20 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// ResumeAfter says where an event stream resumes: after the Last-Event-ID
// header (what an EventSource sends on reconnecting) or else the `after`
// query parameter; 0 when neither is given.
func ResumeAfter(r *http.Request) (uint64, error) {
	if h, ok := r.Header["Last-Event-Id"]; ok {
		if len(h) != 1 {
			return 0, Errorf(http.StatusBadRequest, CodeInvalid, "Last-Event-ID", "given %d times", len(h))
		}
		n, ok := ParseEventID(h[0])
		if !ok {
			return 0, Errorf(http.StatusBadRequest, CodeInvalid, "Last-Event-ID", "%q is not an event id", h[0])
		}
		return n, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, Errorf(http.StatusBadRequest, CodeInvalid, "", "query: %v", err)
	}
	vals, ok := q["after"]
	if !ok {
		return 0, nil
	}
	if len(vals) != 1 {
		return 0, Errorf(http.StatusBadRequest, CodeInvalid, "after", "given %d times", len(vals))
	}
	n, ok := ParseEventID(vals[0])
	if !ok {
		return 0, Errorf(http.StatusBadRequest, CodeInvalid, "after", "%q is not an event id", vals[0])
	}
	return n, nil
}

// Page is a list request's paging: `limit` and `cursor` query parameters.
type Page struct {
	Limit  int    // 1..max; the default when absent
	Cursor string // opaque; empty for the first page
}

// ParsePage reads limit and cursor from a raw query. It rejects parameters
// given twice and a cursor over 256 bytes or with characters outside
// [0-9A-Za-z_-] (cursors are ids); it does not reject other parameters,
// which the caller reads.
func ParsePage(rawQuery string, def, max int) (Page, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Page{}, Errorf(http.StatusBadRequest, CodeInvalid, "", "query: %v", err)
	}
	p := Page{Limit: def}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 1 || n > max {
			return Page{}, Errorf(http.StatusBadRequest, CodeInvalid, "limit", "want one number in 1..%d", max)
		}
		p.Limit = n
	}
	if v, ok := q["cursor"]; ok {
		if len(v) != 1 || len(v[0]) > 256 || strings.ContainsFunc(v[0], func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-')
		}) {
			return Page{}, Errorf(http.StatusBadRequest, CodeInvalid, "cursor", "not a cursor this server gave")
		}
		p.Cursor = v[0]
	}
	return p, nil
}
