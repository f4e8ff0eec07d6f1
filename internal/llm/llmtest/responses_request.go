package llmtest

import "strings"

// inputItems returns a Responses request's input items (none when the
// input is a plain string).
func (r *Request) inputItems() []map[string]any {
	arr, _ := r.JSON["input"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, it := range arr {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// isUserMessage reports a user message item (typed or the easy form).
func isUserMessage(m map[string]any) bool {
	typ, _ := m["type"].(string)
	return (typ == "message" || typ == "") && m["role"] == "user"
}

func (r *Request) responsesToolResults() []ToolResult {
	items := r.inputItems()
	start := 0
	for i, m := range items {
		if isUserMessage(m) {
			start = i + 1
		}
	}
	var out []ToolResult
	for _, m := range items[start:] {
		if m["type"] != "function_call_output" && m["type"] != "custom_tool_call_output" {
			continue
		}
		id, _ := m["call_id"].(string)
		out = append(out, ToolResult{ID: id, Content: responsesText(m["output"])})
	}
	return out
}

func (r *Request) responsesUserText() string {
	if s, ok := r.JSON["input"].(string); ok {
		return s
	}
	items := r.inputItems()
	for i := len(items) - 1; i >= 0; i-- {
		if isUserMessage(items[i]) {
			return responsesText(items[i]["content"])
		}
	}
	return ""
}

// responsesText flattens content: a string, or parts whose text is joined.
func responsesText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var sb strings.Builder
		for _, p := range c {
			pm, _ := p.(map[string]any)
			if t, ok := pm["text"].(string); ok {
				sb.WriteString(t)
			}
		}
		return sb.String()
	}
	return ""
}

// namespaceTools lists the function names inside a namespace tool.
func namespaceTools(ns map[string]any) []string {
	tools, _ := ns["tools"].([]any)
	var names []string
	for _, t := range tools {
		tm, _ := t.(map[string]any)
		if n, ok := tm["name"].(string); ok {
			names = append(names, n)
		}
	}
	return names
}
