package llmtest

import (
	"fmt"
	"strings"
)

// validateResponses checks a Responses API body and returns the first
// problem in the real API's words, or "". With store false and no
// previous_response_id, the input carries the whole conversation, so every
// function_call_output must answer a function_call earlier in it.
func validateResponses(b map[string]any) string {
	if b == nil {
		return "We could not parse the JSON body of your request."
	}
	if m, ok := b["model"].(string); !ok || m == "" {
		return "Missing required parameter: 'model'."
	}
	if v, ok := b["stream"]; ok && v != nil {
		if _, isBool := v.(bool); !isBool {
			return "Invalid type for 'stream': expected a boolean."
		}
	}
	if msg := positiveInt(b, "max_output_tokens", false); msg != "" {
		return "Invalid 'max_output_tokens': " + msg
	}
	if msg := validateResponsesTools(b["tools"]); msg != "" {
		return msg
	}
	switch in := b["input"].(type) {
	case string:
		return ""
	case []any:
		_, chained := b["previous_response_id"].(string)
		return validateResponsesInput(in, chained)
	case nil:
		return "Missing required parameter: 'input'."
	}
	return "Invalid type for 'input': expected one of a string or array of input items."
}

func validateResponsesTools(v any) string {
	if v == nil {
		return ""
	}
	tools, ok := v.([]any)
	if !ok {
		return "Invalid type for 'tools': expected an array."
	}
	for i, t := range tools {
		tm, _ := t.(map[string]any)
		typ, _ := tm["type"].(string)
		if typ == "" {
			return fmt.Sprintf("Missing required parameter: 'tools[%d].type'.", i)
		}
		if typ == "function" {
			name, _ := tm["name"].(string)
			if !toolNameRE.MatchString(name) {
				return fmt.Sprintf("Invalid 'tools[%d].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", i)
			}
		}
	}
	return ""
}

var responsesRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true}

// validateResponsesInput checks the items: known types, message roles and
// content, function calls with their ids, and outputs that answer them.
func validateResponsesInput(items []any, chained bool) string {
	calls := map[string]bool{}
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Sprintf("Invalid type for 'input[%d]': expected an object.", i)
		}
		typ, _ := m["type"].(string)
		if typ == "" && m["role"] != nil {
			typ = "message" // the easy input message form
		}
		switch typ {
		case "message":
			role, _ := m["role"].(string)
			if !responsesRoles[role] {
				return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", role)
			}
			if c, ok := m["content"]; !ok || c == nil {
				return fmt.Sprintf("Missing required parameter: 'input[%d].content'.", i)
			}
		case "function_call", "custom_tool_call":
			id, _ := m["call_id"].(string)
			name, _ := m["name"].(string)
			if id == "" || name == "" {
				return fmt.Sprintf("Missing required parameter: 'input[%d].call_id' or 'input[%d].name'.", i, i)
			}
			calls[id] = true
		case "function_call_output", "custom_tool_call_output":
			id, _ := m["call_id"].(string)
			if _, ok := m["output"]; !ok {
				return fmt.Sprintf("Missing required parameter: 'input[%d].output'.", i)
			}
			if !calls[id] && !chained {
				return fmt.Sprintf("No tool call found for function call output with call_id %s.", id)
			}
		case "reasoning", "local_shell_call", "local_shell_call_output", "web_search_call", "item_reference", "compaction":
		default:
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: %s.", typ, strings.Join([]string{
				"'message'", "'function_call'", "'function_call_output'", "'reasoning'", "'custom_tool_call'", "'custom_tool_call_output'", "'...'",
			}, ", "))
		}
	}
	return ""
}
