package streamjson

import "encoding/json"

// The wire shapes below hold only the fields voidbox reads. Fields whose
// JSON type varies between claude-code versions or line kinds are kept as
// json.RawMessage and interpreted leniently, so one odd field does not
// make a whole line unreadable.

// header is decoded first to pick the line kind.
type header struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`
}

// initLine is {"type":"system","subtype":"init",…}.
type initLine struct {
	Model     string   `json:"model"`
	Tools     []string `json:"tools"`
	Skills    []string `json:"skills"`
	SessionID string   `json:"session_id"`
	Version   string   `json:"claude_code_version"`
}

// messageLine is an "assistant" or "user" line.
type messageLine struct {
	Message struct {
		ID         string          `json:"id"`
		Model      string          `json:"model"`
		Content    json.RawMessage `json:"content"` // array of blocks, or a plain string for user text
		StopReason string          `json:"stop_reason"`
		Usage      usage           `json:"usage"`
	} `json:"message"`
	// ParentToolUseID is set on lines of a sub-agent (the Task tool); they
	// are part of that tool call, not turns of the main loop.
	ParentToolUseID string `json:"parent_tool_use_id"`
	Timestamp       string `json:"timestamp"`
	// IsAPIErrorMessage marks the synthetic assistant message claude-code
	// prints when the API failed for good; it is not a model turn.
	IsAPIErrorMessage bool `json:"is_api_error_message"`
}

// block is one content block of a message.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`   // tool_use
	Name      string          `json:"name"` // tool_use
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // tool_result: string or blocks
	IsError   bool            `json:"is_error"`
}

type usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// resultLine is the final {"type":"result",…} line.
type resultLine struct {
	Subtype           string                     `json:"subtype"`
	IsError           bool                       `json:"is_error"`
	Result            string                     `json:"result"`
	NumTurns          int64                      `json:"num_turns"`
	TotalCostUSD      float64                    `json:"total_cost_usd"`
	DurationMs        int64                      `json:"duration_ms"`
	DurationAPIMs     int64                      `json:"duration_api_ms"`
	StopReason        string                     `json:"stop_reason"`
	TerminalReason    string                     `json:"terminal_reason"`
	APIErrorStatus    int64                      `json:"api_error_status"`
	Usage             usage                      `json:"usage"`
	Errors            []json.RawMessage          `json:"errors"`
	PermissionDenials []denial                   `json:"permission_denials"`
	ModelUsage        map[string]json.RawMessage `json:"modelUsage"`
	SessionID         string                     `json:"session_id"`
}

type denial struct {
	ToolName  string          `json:"tool_name"`
	ToolUseID string          `json:"tool_use_id"`
	ToolInput json.RawMessage `json:"tool_input"`
}

// blocks decodes a content value: an array of blocks, or a plain string
// (which becomes one text block).
func blocks(raw json.RawMessage) []block {
	if len(raw) == 0 {
		return nil
	}
	var bs []block
	if json.Unmarshal(raw, &bs) == nil {
		return bs
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []block{{Type: "text", Text: s}}
	}
	return nil
}

// plainText flattens a tool_result content value to its text.
func plainText(raw json.RawMessage) string {
	var out string
	for _, b := range blocks(raw) {
		if b.Type == "text" {
			out += b.Text
		}
	}
	return out
}

// rawString renders an element of result.errors: a JSON string as its
// value, anything else as its JSON text.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
