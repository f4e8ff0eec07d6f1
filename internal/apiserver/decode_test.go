package apiserver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type createReq struct {
	Name  string `json:"name"`
	Input struct {
		Limit int `json:"limit"`
	} `json:"input"`
}

func decodeErr(t *testing.T, ct, body string) *Error {
	t.Helper()
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", ct)
	var v createReq
	err := DecodeJSON(r, &v)
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("DecodeJSON error %T is not *Error: %v", err, err)
	}
	return e
}

func TestDecodeJSON(t *testing.T) {
	if e := decodeErr(t, "application/json; charset=utf-8", `{"name":"a","input":{"limit":3}}`); e != nil {
		t.Fatalf("good body: %v", e)
	}
	for _, tc := range []struct {
		ct, body string
		status   int
		field    string
		msg      string
	}{
		{"text/plain", `{}`, 415, "Content-Type", ""},
		{"", `{}`, 415, "Content-Type", ""},
		{"application/json", ``, 400, "", "empty"},
		{"application/json", "{\n  \"name\": \"a\",\n  \"nmae\": 1}", 400, "nmae", "unknown field"},
		{"application/json", "{\n\"input\": {\"limit\": \"x\"}}", 400, "input.limit", "2:20"},
		{"application/json", "{\"input\": [1]}", 400, "input", "1:11"},
		{"application/json", "{\"name\": true}", 400, "name", "1:10"},
		{"application/json", "{\n  \"name\": \"a\" x}", 400, "", "2:15"},
		{"application/json", `{"name":"a"} {}`, 400, "", "data after"},
		{"application/json", `{"name":`, 400, "", "unexpected end"},
	} {
		e := decodeErr(t, tc.ct, tc.body)
		if e == nil || e.Status != tc.status || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("DecodeJSON(%q, %q) = %+v, want %d field %q containing %q", tc.ct, tc.body, e, tc.status, tc.field, tc.msg)
		}
	}
}

func TestResumeAfter(t *testing.T) {
	for _, tc := range []struct {
		header []string
		query  string
		want   uint64
		ok     bool
	}{
		{nil, "", 0, true},
		{[]string{"42"}, "after=7", 42, true},
		{nil, "after=7", 7, true},
		{[]string{"18446744073709551615"}, "", 1<<64 - 1, true},
		{[]string{"18446744073709551616"}, "", 0, false},
		{[]string{"-1"}, "", 0, false},
		{[]string{"+1"}, "", 0, false},
		{[]string{" 1"}, "", 0, false},
		{[]string{""}, "", 0, false},
		{[]string{"1", "2"}, "", 0, false},
		{nil, "after=1&after=2", 0, false},
		{nil, "after=x", 0, false},
	} {
		r := httptest.NewRequest("GET", "/?"+tc.query, nil)
		if tc.header != nil {
			r.Header["Last-Event-Id"] = tc.header
		}
		got, err := ResumeAfter(r)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ResumeAfter(%q, %q) = %d, %v", tc.header, tc.query, got, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Field == "" {
				t.Errorf("ResumeAfter(%q, %q): error %+v", tc.header, tc.query, err)
			}
		}
	}
}

func TestParsePage(t *testing.T) {
	p, err := ParsePage("limit=5&cursor=06h3mjk4&status=running", 100, 1000)
	if err != nil || p.Limit != 5 || p.Cursor != "06h3mjk4" {
		t.Fatalf("ParsePage = %+v, %v", p, err)
	}
	if p, err := ParsePage("", 100, 1000); err != nil || p.Limit != 100 || p.Cursor != "" {
		t.Fatalf("defaults: %+v, %v", p, err)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "limit=1&limit=2", "cursor=../x", "cursor=a&cursor=b",
		"cursor=" + strings.Repeat("a", 257), "%zz"} {
		if _, err := ParsePage(q, 100, 1000); err == nil {
			t.Errorf("ParsePage(%q) accepted", q)
		}
	}
}
