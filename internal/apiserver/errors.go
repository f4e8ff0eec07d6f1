package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is an API error. On the wire, with Status as the HTTP status:
//
//	{"error":{"code":"invalid_request","message":"...","field":"limit"}}
//
// Code is a stable machine-readable word; Field (omitted when empty) names
// the request part at fault: a JSON field path, a query parameter, a header.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Codes used by the server shell; the API adds its own.
const (
	CodeInvalid          = "invalid_request"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeTimeout          = "request_timeout"
	CodeInternal         = "internal"
)

// Errorf makes an *Error.
func Errorf(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// WriteError writes err as a JSON error. An *Error (anywhere in the chain)
// is written as it is; anything else is a 500 whose message does not leak
// the internal error (log it first).
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Field = e.Code, e.Message, e.Field
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="voidbox"`)
	}
	WriteJSON(w, e.Status, b)
}

// WriteJSON writes v as the JSON body with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// jsonErrors turns plain-text error responses (ServeMux's 404 and 405,
// http.Error, MaxBytesHandler) into JSON errors, so every error a client
// sees has one shape.
func jsonErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&errorRewriter{ResponseWriter: w}, r)
	})
}

type errorRewriter struct {
	http.ResponseWriter
	swallow bool // a JSON error was written in place of the text one
}

var statusCodes = map[int]string{
	http.StatusNotFound:              CodeNotFound,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusRequestEntityTooLarge: CodeTooLarge,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusRequestTimeout:        CodeTimeout,
	http.StatusUnsupportedMediaType:  CodeUnsupportedMedia,
}

func (e *errorRewriter) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(e.Header().Get("Content-Type"), "text/plain") {
		c, ok := statusCodes[code]
		if !ok {
			c = CodeInvalid
			if code >= 500 {
				c = CodeInternal
			}
		}
		e.Header().Del("Content-Length")
		e.Header().Del("X-Content-Type-Options")
		e.swallow = true
		WriteError(e.ResponseWriter, &Error{Status: code, Code: c, Message: strings.ToLower(http.StatusText(code))})
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorRewriter) Write(b []byte) (int, error) {
	if e.swallow {
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (e *errorRewriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }
