package llmtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// toolNameRE is the tool name rule of both APIs.
var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// anthropicBlockTypes are the content block types a request may carry.
var anthropicBlockTypes = map[string]bool{
	"text": true, "image": true, "document": true, "search_result": true,
	"tool_use": true, "tool_result": true, "thinking": true, "redacted_thinking": true,
	"server_tool_use": true, "web_search_tool_result": true,
}

// validateAnthropic checks a Messages request body and returns the first
// problem as the real API words it, or "".
func validateAnthropic(b map[string]any) string {
	if b == nil {
		return "invalid request body: not a JSON object"
	}
	if m, ok := b["model"].(string); !ok || m == "" {
		return "model: Field required"
	}
	if msg := positiveInt(b, "max_tokens", true); msg != "" {
		return msg
	}
	if v, ok := b["stream"]; ok {
		if _, isBool := v.(bool); !isBool {
			return "stream: Input should be a valid boolean"
		}
	}
	if msg := validateSystem(b["system"]); msg != "" {
		return msg
	}
	toolNames, msg := validateAnthropicTools(b["tools"])
	if msg != "" {
		return msg
	}
	if msg := validateToolChoice(b["tool_choice"], toolNames); msg != "" {
		return msg
	}
	return validateAnthropicMessages(b["messages"])
}

// positiveInt checks an integer field ≥ 1.
func positiveInt(b map[string]any, key string, required bool) string {
	v, ok := b[key]
	if !ok {
		if required {
			return key + ": Field required"
		}
		return ""
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return key + ": Input should be a valid integer"
	}
	i, err := n.Int64()
	if err != nil {
		return key + ": Input should be a valid integer"
	}
	if i < 1 {
		return key + ": Input should be greater than or equal to 1"
	}
	return ""
}

func validateSystem(v any) string {
	switch s := v.(type) {
	case nil, string:
		return ""
	case []any:
		for i, blk := range s {
			bm, ok := blk.(map[string]any)
			if !ok || bm["type"] != "text" {
				return fmt.Sprintf("system.%d: Input tag '%v' found using 'type' does not match the expected tag 'text'", i, bm["type"])
			}
			if _, ok := bm["text"].(string); !ok {
				return fmt.Sprintf("system.%d.text: Field required", i)
			}
		}
		return ""
	}
	return "system: Input should be a valid string or list"
}

func validateAnthropicTools(v any) (map[string]bool, string) {
	names := map[string]bool{}
	if v == nil {
		return names, ""
	}
	tools, ok := v.([]any)
	if !ok {
		return nil, "tools: Input should be a valid list"
	}
	for i, t := range tools {
		tm, ok := t.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("tools.%d: Input should be a valid dictionary", i)
		}
		name, _ := tm["name"].(string)
		if !toolNameRE.MatchString(name) {
			return nil, fmt.Sprintf("tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i)
		}
		if names[name] {
			return nil, "tools: Tool names must be unique."
		}
		names[name] = true
		if typ, hasType := tm["type"].(string); hasType && typ != "custom" {
			continue // a server tool such as bash_20250124: no schema
		}
		schema, ok := tm["input_schema"].(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("tools.%d.custom.input_schema: Field required", i)
		}
		if schema["type"] != "object" {
			return nil, fmt.Sprintf("tools.%d.custom.input_schema.type: Input should be 'object'", i)
		}
	}
	return names, ""
}

func validateToolChoice(v any, tools map[string]bool) string {
	if v == nil {
		return ""
	}
	tc, ok := v.(map[string]any)
	if !ok {
		return "tool_choice: Input should be a valid dictionary"
	}
	switch tc["type"] {
	case "auto", "any", "none":
		return ""
	case "tool":
		name, _ := tc["name"].(string)
		if !tools[name] {
			return fmt.Sprintf("tool_choice: tool %q is not in tools", name)
		}
		return ""
	}
	return fmt.Sprintf("tool_choice.type: Input tag '%v' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'", tc["type"])
}

// validateAnthropicMessages checks roles and tool pairing: every tool_use
// of an assistant turn needs a tool_result in the very next user turn, and
// every tool_result must answer a tool_use of the turn just before.
func validateAnthropicMessages(v any) string {
	msgs, ok := v.([]any)
	if !ok {
		return "messages: Field required"
	}
	if len(msgs) == 0 {
		return "messages: at least one message is required"
	}
	var prevRole string
	var pending []string // tool_use ids of the previous assistant turn
	for i, m := range msgs {
		mm, ok := m.(map[string]any)
		if !ok {
			return fmt.Sprintf("messages.%d: Input should be a valid dictionary", i)
		}
		role, _ := mm["role"].(string)
		if role != "user" && role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if i == 0 && role != "user" {
			return `messages: first message must use the "user" role`
		}
		if role == prevRole {
			return `messages: roles must alternate between "user" and "assistant", but found multiple "` + role + `" roles in a row`
		}
		blocks, msg := anthropicBlocks(i, mm["content"])
		if msg != "" {
			return msg
		}
		if role == "user" {
			if msg := checkToolResults(i, blocks, pending); msg != "" {
				return msg
			}
			pending = nil
		} else {
			if msg := checkNoToolResults(i, blocks); msg != "" {
				return msg
			}
			pending = toolUseIDs(blocks)
			if len(pending) > 0 && i == len(msgs)-1 {
				return fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, strings.Join(pending, ", "))
			}
		}
		prevRole = role
	}
	return ""
}

// anthropicBlocks normalises content to blocks and checks each one.
func anthropicBlocks(i int, content any) ([]map[string]any, string) {
	switch c := content.(type) {
	case string:
		if c == "" {
			return nil, fmt.Sprintf("messages.%d: text content blocks must be non-empty", i)
		}
		return []map[string]any{{"type": "text", "text": c}}, ""
	case []any:
		if len(c) == 0 {
			return nil, fmt.Sprintf("messages.%d: all messages must have non-empty content", i)
		}
		out := make([]map[string]any, 0, len(c))
		for j, blk := range c {
			bm, ok := blk.(map[string]any)
			if !ok {
				return nil, fmt.Sprintf("messages.%d.content.%d: Input should be a valid dictionary", i, j)
			}
			if msg := checkBlock(i, j, bm); msg != "" {
				return nil, msg
			}
			out = append(out, bm)
		}
		return out, ""
	}
	return nil, fmt.Sprintf("messages.%d.content: Field required", i)
}

func checkBlock(i, j int, b map[string]any) string {
	typ, _ := b["type"].(string)
	at := fmt.Sprintf("messages.%d.content.%d", i, j)
	if !anthropicBlockTypes[typ] {
		return fmt.Sprintf("%s.type: Input tag '%v' found using 'type' does not match any of the expected tags", at, b["type"])
	}
	switch typ {
	case "text":
		t, ok := b["text"].(string)
		if !ok {
			return at + ".text: Field required"
		}
		if t == "" {
			return at + ": text content blocks must be non-empty"
		}
	case "tool_use":
		if id, _ := b["id"].(string); id == "" {
			return at + ".tool_use.id: Field required"
		}
		if name, _ := b["name"].(string); !toolNameRE.MatchString(name) {
			return at + ".tool_use.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
		}
		if _, ok := b["input"].(map[string]any); !ok {
			return at + ".tool_use.input: Input should be a valid dictionary"
		}
	case "tool_result":
		if id, _ := b["tool_use_id"].(string); id == "" {
			return at + ".tool_result.tool_use_id: Field required"
		}
		switch c := b["content"].(type) {
		case nil, string:
		case []any:
			for k, part := range c {
				pm, _ := part.(map[string]any)
				if pm["type"] != "text" && pm["type"] != "image" && pm["type"] != "document" && pm["type"] != "search_result" {
					return fmt.Sprintf("%s.tool_result.content.%d.type: Input tag '%v' found using 'type' does not match any of the expected tags", at, k, pm["type"])
				}
			}
		default:
			return at + ".tool_result.content: Input should be a valid string or list"
		}
	}
	return ""
}

func toolUseIDs(blocks []map[string]any) []string {
	var ids []string
	for _, b := range blocks {
		if b["type"] == "tool_use" {
			id, _ := b["id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

func checkNoToolResults(i int, blocks []map[string]any) string {
	for j, b := range blocks {
		if b["type"] == "tool_result" {
			return fmt.Sprintf("messages.%d.content.%d: tool_result blocks are only allowed in user messages", i, j)
		}
	}
	return ""
}

// checkToolResults pairs a user turn's tool_result blocks with the tool_use
// ids of the assistant turn before it; tool results must come first.
func checkToolResults(i int, blocks []map[string]any, pending []string) string {
	want := map[string]bool{}
	for _, id := range pending {
		want[id] = true
	}
	seenOther := false
	got := map[string]bool{}
	for j, b := range blocks {
		if b["type"] == "tool_use" {
			return fmt.Sprintf("messages.%d.content.%d: tool_use blocks are only allowed in assistant messages", i, j)
		}
		if b["type"] != "tool_result" {
			seenOther = true
			continue
		}
		id, _ := b["tool_use_id"].(string)
		if !want[id] {
			return fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, id)
		}
		if seenOther {
			return fmt.Sprintf("messages.%d: `tool_result` blocks must come first in the content array, before any other content", i)
		}
		got[id] = true
	}
	var missing []string
	for _, id := range pending {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, strings.Join(missing, ", "))
	}
	return ""
}
