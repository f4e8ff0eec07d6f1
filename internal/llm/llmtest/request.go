package llmtest

import (
	"net/http"
	"strings"
)

// Request is one request a fake received, as the provider would see it.
type Request struct {
	N        int // 1-based arrival order
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	// Auth is the credential presented: the x-api-key value, else the
	// Authorization bearer token (empty when none).
	Auth string
	Body []byte
	// JSON is the decoded body (numbers as json.Number); nil if not JSON.
	JSON   map[string]any
	Model  string
	Stream bool
	// Status is the status the fake answered with (0 while in flight).
	Status int
	// Usage is the usage reported in the answer (zero for errors).
	Usage Usage
	// Invalid is the validation error the fake answered 400 with.
	Invalid string

	format string // "anthropic" | "openai" | "responses" | "chatgpt" (the Responses API too)
}

// ToolResult is a tool's answer that the client sent back.
type ToolResult struct {
	ID      string
	Content string
	IsError bool
}

// Messages returns the request's messages array.
func (r *Request) Messages() []map[string]any {
	arr, _ := r.JSON["messages"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, m := range arr {
		if mm, ok := m.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

// ToolResults returns the tool results answering the previous turn: the
// tool_result blocks of the last user message (Anthropic), the trailing
// role "tool" messages (OpenAI), or the function_call_output items after
// the last user message (Responses).
func (r *Request) ToolResults() []ToolResult {
	if r.format == "responses" || r.format == "chatgpt" {
		return r.responsesToolResults()
	}
	msgs := r.Messages()
	var out []ToolResult
	if r.format == "openai" {
		i := len(msgs)
		for i > 0 && msgs[i-1]["role"] == "tool" {
			i--
		}
		for _, m := range msgs[i:] {
			id, _ := m["tool_call_id"].(string)
			out = append(out, ToolResult{ID: id, Content: contentText(m["content"])})
		}
		return out
	}
	if len(msgs) == 0 || msgs[len(msgs)-1]["role"] != "user" {
		return nil
	}
	blocks, _ := msgs[len(msgs)-1]["content"].([]any)
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		if bm["type"] != "tool_result" {
			continue
		}
		id, _ := bm["tool_use_id"].(string)
		isErr, _ := bm["is_error"].(bool)
		out = append(out, ToolResult{ID: id, Content: contentText(bm["content"]), IsError: isErr})
	}
	return out
}

// LastUserText returns the text of the last user message.
func (r *Request) LastUserText() string {
	if r.format == "responses" || r.format == "chatgpt" {
		return r.responsesUserText()
	}
	msgs := r.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i]["role"] == "user" {
			return contentText(msgs[i]["content"])
		}
	}
	return ""
}

// ToolNames returns the names of the tools the request offered.
func (r *Request) ToolNames() []string {
	tools, _ := r.JSON["tools"].([]any)
	var names []string
	for _, t := range tools {
		tm, _ := t.(map[string]any)
		if fn, ok := tm["function"].(map[string]any); ok { // OpenAI
			tm = fn
		}
		if tm["type"] == "namespace" { // Responses: a group of tools
			names = append(names, namespaceTools(tm)...)
			continue
		}
		if n, ok := tm["name"].(string); ok {
			names = append(names, n)
		}
	}
	return names
}

// contentText flattens a content value: a string, or an array of blocks
// whose text parts are concatenated.
func contentText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var sb strings.Builder
		for _, b := range c {
			bm, _ := b.(map[string]any)
			if t, ok := bm["text"].(string); ok && (bm["type"] == "text" || bm["type"] == nil) {
				sb.WriteString(t)
			}
		}
		return sb.String()
	}
	return ""
}

func (r *Request) clone() Request {
	c := *r
	c.Header = r.Header.Clone()
	return c
}
