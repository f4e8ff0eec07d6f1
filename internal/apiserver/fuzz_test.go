package apiserver

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"
)

// FuzzDecodeJSON: any body and content type gives a value or an *Error with
// a 4xx status; never a panic or a 5xx.
func FuzzDecodeJSON(f *testing.F) {
	f.Add("application/json", []byte(`{"name":"a","input":{"limit":1}}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		var v createReq
		err := DecodeJSON(r, &v)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
			t.Fatalf("DecodeJSON(%q, %q) = %v", ct, body, err)
		}
	})
}

// FuzzParseEventID: accepted ids are exactly the canonical decimals of a
// uint64 (leading zeros allowed), and round-trip.
func FuzzParseEventID(f *testing.F) {
	f.Add("0")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseEventID(s)
		want, err := strconv.ParseUint(s, 10, 64)
		wantOK := err == nil && len(s) <= 20 && s != "" && s[0] != '+'
		if ok != wantOK || (ok && n != want) {
			t.Fatalf("ParseEventID(%q) = %d, %v; strconv says %d, %v", s, n, ok, want, err)
		}
	})
}

// FuzzParsePage: whatever the query, a page within bounds or a 400.
func FuzzParsePage(f *testing.F) {
	f.Add("limit=10&cursor=abc")
	f.Fuzz(func(t *testing.T, q string) {
		p, err := ParsePage(q, 100, 1000)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("ParsePage(%q): %v", q, err)
			}
			return
		}
		if p.Limit < 1 || p.Limit > 1000 || len(p.Cursor) > 256 {
			t.Fatalf("ParsePage(%q) = %+v", q, p)
		}
	})
}
