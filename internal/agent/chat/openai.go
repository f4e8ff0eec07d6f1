package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OpenAI is a streaming Chat Completions client for OpenAI-compatible
// servers. It is written by hand: the official SDK would add several MiB to
// the guest binary for one endpoint.
type OpenAI struct {
	url     string
	http    *http.Client
	retries int
}

// NewOpenAI returns a client for the server at baseURL, given as the root
// ("http://127.0.0.1:8080") or with its /v1 ("…/v1"); the client posts to
// <root>/v1/chat/completions.
func NewOpenAI(baseURL string, opts Options) *OpenAI {
	base := strings.TrimSuffix(strings.TrimRight(baseURL, "/"), "/v1")
	return &OpenAI{url: base + "/v1/chat/completions", http: opts.httpClient(), retries: opts.retries()}
}

// Wire types of the request.
type oaRequest struct {
	Model         string       `json:"model"`
	Messages      []oaMessage  `json:"messages"`
	Tools         []oaTool     `json:"tools,omitempty"`
	MaxTokens     int          `json:"max_tokens,omitempty"`
	Stream        bool         `json:"stream"`
	StreamOptions *oaStreamOpt `json:"stream_options,omitempty"`
}

type oaStreamOpt struct {
	IncludeUsage bool `json:"include_usage"`
}

type oaMessage struct {
	Role       string       `json:"role"`
	Content    *string      `json:"content"` // null for an assistant message with only tool calls
	ToolCalls  []oaToolCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
}

type oaToolCall struct {
	Index    *int       `json:"index,omitempty"` // stream deltas only
	ID       string     `json:"id,omitempty"`
	Type     string     `json:"type,omitempty"`
	Function oaFunction `json:"function"`
}

type oaFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type oaTool struct {
	Type     string        `json:"type"`
	Function oaFunctionDef `json:"function"`
}

type oaFunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

func openAIRequest(req Request) oaRequest {
	body := oaRequest{
		Model: req.Model, MaxTokens: req.MaxTokens, Stream: true,
		StreamOptions: &oaStreamOpt{IncludeUsage: true},
	}
	if req.System != "" {
		body.Messages = append(body.Messages, oaMessage{Role: "system", Content: &req.System})
	}
	for _, m := range req.Messages {
		if m.Role == Assistant {
			om := oaMessage{Role: "assistant"}
			if m.Text != "" || len(m.Calls) == 0 {
				om.Content = &m.Text
			}
			for _, c := range m.Calls {
				om.ToolCalls = append(om.ToolCalls, oaToolCall{ID: c.ID, Type: "function",
					Function: oaFunction{Name: c.Name, Arguments: string(validInput(c.Input))}})
			}
			body.Messages = append(body.Messages, om)
			continue
		}
		for _, r := range m.Results {
			content := r.Content
			if r.IsError {
				// Chat Completions has no error flag on tool messages.
				content = "Error: " + content
			}
			body.Messages = append(body.Messages, oaMessage{Role: "tool", ToolCallID: r.CallID, Content: &content})
		}
		if m.Text != "" {
			body.Messages = append(body.Messages, oaMessage{Role: "user", Content: &m.Text})
		}
	}
	for _, t := range req.Tools {
		body.Tools = append(body.Tools, oaTool{Type: "function", Function: oaFunctionDef{
			Name: t.Name, Description: t.Description, Parameters: t.Schema,
		}})
	}
	return body
}

// Send streams one model turn and returns it once complete.
func (o *OpenAI) Send(ctx context.Context, req Request) (Response, error) {
	body, err := json.Marshal(openAIRequest(req))
	if err != nil {
		return Response{}, fmt.Errorf("openai: encoding request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		resp, err := o.post(ctx, body)
		if err == nil {
			defer resp.Body.Close()
			return readStream(resp.Body)
		}
		wait, retry := retryable(err, attempt)
		if !retry || attempt >= o.retries || ctx.Err() != nil {
			if ctx.Err() != nil {
				return Response{}, fmt.Errorf("openai: %w", ctx.Err())
			}
			return Response{}, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Response{}, fmt.Errorf("openai: %w", ctx.Err())
		}
	}
}

// post sends the request; any status but 200 is a *ProviderError (with
// retryAfter) and the body is closed.
func (o *OpenAI) post(ctx context.Context, body []byte) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	hreq.Header.Set("Authorization", "Bearer "+PlaceholderKey)
	resp, err := o.http.Do(hreq)
	if err != nil {
		return nil, &connError{err: err}
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	pe := &ProviderError{Provider: "openai", Status: resp.StatusCode}
	pe.Type, pe.Message = openAIErrorBody(raw)
	return nil, &statusError{pe: pe, retryAfter: resp.Header.Get("Retry-After"),
		noRetry: resp.Header.Get("X-Should-Retry") == "false"}
}

// openAIErrorBody reads {"error":{"message","type"}}, or falls back to the
// body text (a proxy's HTML page, a bare string).
func openAIErrorBody(raw []byte) (typ, msg string) {
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Error) > 0 {
		var e struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		if json.Unmarshal(body.Error, &e) == nil && e.Message != "" {
			return e.Type, e.Message
		}
		var s string
		if json.Unmarshal(body.Error, &s) == nil && s != "" { // Ollama: {"error":"..."}
			return "", s
		}
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 512 {
		text = text[:512] + "…"
	}
	if text == "" {
		text = "(empty body)"
	}
	return "", text
}

// connError is a request that got no answer.
type connError struct{ err error }

func (e *connError) Error() string { return "openai: " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// statusError is an error status; Unwrap gives the ProviderError.
type statusError struct {
	pe         *ProviderError
	retryAfter string
	noRetry    bool // the server said x-should-retry: false (a spent budget)
}

func (e *statusError) Error() string { return e.pe.Error() }
func (e *statusError) Unwrap() error { return e.pe }

// retryable says whether to try again after err, and when.
func retryable(err error, attempt int) (time.Duration, bool) {
	backoff := min(500*time.Millisecond<<attempt, 8*time.Second)
	var ce *connError
	if errors.As(err, &ce) {
		return backoff, true
	}
	var se *statusError
	if !errors.As(err, &se) || se.noRetry {
		return 0, false
	}
	switch s := se.pe.Status; {
	case s == 408, s == 409, s == 429, s >= 500:
	default:
		return 0, false
	}
	if secs, err := strconv.Atoi(se.retryAfter); err == nil && secs >= 0 && secs <= 30 {
		return time.Duration(secs) * time.Second, true
	}
	return backoff, true
}
