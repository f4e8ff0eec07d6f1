package llm

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// errorBody renders a gateway-made error in the dialect the guest's client
// expects, so its SDK surfaces the message instead of a decode failure.
//
// Shapes: Anthropic {"type":"error","error":{"type":..,"message":..}};
// OpenAI (both APIs) {"error":{"message":..,"type":..,"param":null,"code":..}};
// Ollama {"error":".."}.
func errorBody(f apiFormat, status int, msg string) []byte {
	return typedErrorBody(f, status, "", msg)
}

// typedErrorBody is errorBody with an OpenAI error type and code of the
// caller's choice ("": by status, no code).
func typedErrorBody(f apiFormat, status int, openAIType, msg string) []byte {
	var v any
	switch f {
	case formatAnthropic:
		v = map[string]any{
			"type":  "error",
			"error": map[string]string{"type": anthropicErrorType(status), "message": msg},
		}
	case formatOpenAI, formatResponses:
		typ, code := openAIErrorType(status), any(nil)
		if openAIType != "" {
			typ, code = openAIType, openAIType
		}
		v = map[string]any{"error": map[string]any{
			"message": msg,
			"type":    typ,
			"param":   nil,
			"code":    code,
		}}
	default:
		v = map[string]string{"error": msg}
	}
	b, err := json.Marshal(v)
	if err != nil { // only strings and maps above: cannot happen
		return []byte(`{"error":"internal error"}`)
	}
	return b
}

// anthropicErrorType follows https://docs.anthropic.com/en/api/errors.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

func openAIErrorType(status int) string {
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "server_error"
}

// writeError sends a gateway-made error. Precondition: nothing has been
// written to w yet.
func writeError(w http.ResponseWriter, f apiFormat, status int, msg string) {
	writeBody(w, status, errorBody(f, status, msg))
}

// writeBudgetError refuses a request past the box's model budget: 429, as
// providers answer a spent quota (OpenAI's type and code
// insufficient_quota), with x-should-retry: false, which the official SDKs
// and the built-in agent obey, so no client retries into it.
func writeBudgetError(w http.ResponseWriter, f apiFormat, msg string) {
	w.Header().Set("X-Should-Retry", "false")
	writeBody(w, http.StatusTooManyRequests, typedErrorBody(f, http.StatusTooManyRequests, "insufficient_quota", msg))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the guest hung up; nothing to do
}
