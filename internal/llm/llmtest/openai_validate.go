package llmtest

import (
	"fmt"
	"strings"
)

// validateOpenAI checks a Chat Completions body and returns the first
// problem in the real API's words, or "".
func validateOpenAI(b map[string]any) string {
	if b == nil {
		return "We could not parse the JSON body of your request."
	}
	if m, ok := b["model"].(string); !ok || m == "" {
		return "you must provide a model parameter"
	}
	stream := false
	if v, ok := b["stream"]; ok && v != nil {
		s, isBool := v.(bool)
		if !isBool {
			return "Invalid type for 'stream': expected a boolean."
		}
		stream = s
	}
	if v, ok := b["stream_options"]; ok && v != nil {
		if !stream {
			return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
		}
		if _, isObj := v.(map[string]any); !isObj {
			return "Invalid type for 'stream_options': expected an object."
		}
	}
	for _, k := range []string{"max_tokens", "max_completion_tokens", "n"} {
		if msg := positiveInt(b, k, false); msg != "" {
			return "Invalid '" + k + "': " + msg
		}
	}
	if n, ok := b["n"]; ok && fmt.Sprint(n) != "1" {
		return "llmtest: only n=1 is supported"
	}
	if msg := validateOpenAITools(b["tools"]); msg != "" {
		return msg
	}
	return validateOpenAIMessages(b["messages"])
}

func validateOpenAITools(v any) string {
	if v == nil {
		return ""
	}
	tools, ok := v.([]any)
	if !ok {
		return "Invalid type for 'tools': expected an array."
	}
	for i, t := range tools {
		tm, _ := t.(map[string]any)
		if tm["type"] != "function" {
			return fmt.Sprintf("Invalid value for 'tools[%d].type': expected 'function'.", i)
		}
		fn, _ := tm["function"].(map[string]any)
		name, _ := fn["name"].(string)
		if !toolNameRE.MatchString(name) {
			return fmt.Sprintf("Invalid 'tools[%d].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", i)
		}
	}
	return ""
}

var openAIRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// validateOpenAIMessages checks roles and tool pairing: an assistant
// message with tool_calls must be followed by one tool message per call id,
// and a tool message must answer such a call.
func validateOpenAIMessages(v any) string {
	msgs, ok := v.([]any)
	if !ok {
		return "Missing required parameter: 'messages'."
	}
	if len(msgs) == 0 {
		return "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."
	}
	var pending []string // call ids not yet answered
	open := false        // inside the tool messages after an assistant tool_calls message
	for i, m := range msgs {
		mm, ok := m.(map[string]any)
		if !ok {
			return fmt.Sprintf("Invalid type for 'messages[%d]': expected an object.", i)
		}
		role, _ := mm["role"].(string)
		if !openAIRoles[role] {
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.", role)
		}
		if role == "tool" {
			if !open {
				return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
			}
			id, _ := mm["tool_call_id"].(string)
			idx := indexOf(pending, id)
			if idx < 0 {
				return fmt.Sprintf("Invalid parameter: 'tool_call_id' of '%s' not found in 'tool_calls' of previous message.", id)
			}
			pending = append(pending[:idx], pending[idx+1:]...)
			if _, ok := mm["content"]; !ok {
				return fmt.Sprintf("Missing required parameter: 'messages[%d].content'.", i)
			}
			continue
		}
		if len(pending) > 0 {
			return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: " + strings.Join(pending, ", ")
		}
		open = false
		calls, msg := openAIToolCalls(i, mm)
		if msg != "" {
			return msg
		}
		if len(calls) > 0 {
			pending, open = calls, true
			continue
		}
		if c, ok := mm["content"]; !ok || c == nil {
			return fmt.Sprintf("Missing required parameter: 'messages[%d].content'.", i)
		}
	}
	if len(pending) > 0 {
		return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: " + strings.Join(pending, ", ")
	}
	return ""
}

// openAIToolCalls checks an assistant message's tool_calls and returns ids.
func openAIToolCalls(i int, m map[string]any) ([]string, string) {
	raw, ok := m["tool_calls"]
	if !ok || raw == nil {
		return nil, ""
	}
	if m["role"] != "assistant" {
		return nil, fmt.Sprintf("Invalid parameter: 'messages[%d].tool_calls' is only allowed for role 'assistant'.", i)
	}
	calls, ok := raw.([]any)
	if !ok {
		return nil, fmt.Sprintf("Invalid type for 'messages[%d].tool_calls': expected an array.", i)
	}
	var ids []string
	for j, c := range calls {
		cm, _ := c.(map[string]any)
		id, _ := cm["id"].(string)
		fn, _ := cm["function"].(map[string]any)
		name, _ := fn["name"].(string)
		_, argsOK := fn["arguments"].(string)
		switch {
		case id == "":
			return nil, fmt.Sprintf("Missing required parameter: 'messages[%d].tool_calls[%d].id'.", i, j)
		case cm["type"] != "function":
			return nil, fmt.Sprintf("Missing required parameter: 'messages[%d].tool_calls[%d].type'.", i, j)
		case name == "":
			return nil, fmt.Sprintf("Missing required parameter: 'messages[%d].tool_calls[%d].function.name'.", i, j)
		case !argsOK:
			return nil, fmt.Sprintf("Missing required parameter: 'messages[%d].tool_calls[%d].function.arguments'.", i, j)
		}
		ids = append(ids, id)
	}
	return ids, ""
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
