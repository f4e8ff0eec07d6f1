package execjson

// line is any top-level line; the fields of every type share one struct.
type line struct {
	Type     string     `json:"type"`
	ThreadID string     `json:"thread_id"`
	Item     *item      `json:"item"`
	Usage    *usage     `json:"usage"`
	Error    *lineError `json:"error"`
	Message  string     `json:"message"`
}

type lineError struct {
	Message string `json:"message"`
}

// item is a thread item; which fields are set depends on Type.
type item struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status string `json:"status"`
	// agent_message, reasoning
	Text string `json:"text"`
	// command_execution
	Command  string `json:"command"`
	ExitCode *int64 `json:"exit_code"`
	// mcp_tool_call
	Server string     `json:"server"`
	Tool   string     `json:"tool"`
	Error  *lineError `json:"error"`
	// web_search
	Query string `json:"query"`
	// error
	Message string `json:"message"`
}

type usage struct {
	InputTokens       int64 `json:"input_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	ReasoningTokens   int64 `json:"reasoning_output_tokens"`
}

// toolItems are the item types that are tool calls.
var toolItems = map[string]bool{
	"command_execution": true,
	"file_change":       true,
	"mcp_tool_call":     true,
	"web_search":        true,
	"todo_list":         true,
	"collab_tool_call":  true,
}
