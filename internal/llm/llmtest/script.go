package llmtest

// Turn is one scripted answer. Build it with Text, ToolCall, Reply, Error,
// MalformedSSE, StreamError or Func; adjust it with the With… methods.
type Turn struct {
	kind    turnKind
	text    string
	calls   []Call
	stop    stopKind
	status  int    // Error
	errType string // Error, StreamError
	errMsg  string
	fn      func(*Request) Turn
	// usage overrides the estimated input/output tokens when usageSet.
	usage    Usage
	usageSet bool
	pause    <-chan struct{}
}

type turnKind int

const (
	kindReply turnKind = iota
	kindError
	kindMalformed
	kindStreamError
	kindFunc
)

type stopKind int

const (
	stopAuto      stopKind = iota // end_turn / stop, or tool_use / tool_calls
	stopMaxTokens                 // max_tokens / length
)

// Call is one tool call in a reply. ID is generated when empty.
type Call struct {
	ID    string
	Name  string
	Input map[string]any
}

// Usage is the token usage a fake reports for a turn, in Anthropic's terms:
// Input excludes cached tokens. The OpenAI fake reports prompt_tokens as
// Input + CacheRead, with CacheRead as cached_tokens.
type Usage struct {
	Input      int
	Output     int
	CacheRead  int
	CacheWrite int
}

// Text answers with plain text and a normal stop.
func Text(s string) Turn { return Turn{kind: kindReply, text: s} }

// ToolCall answers with a single tool call.
func ToolCall(name string, input map[string]any) Turn {
	return Reply("", Call{Name: name, Input: input})
}

// Reply answers with optional text followed by tool calls.
func Reply(text string, calls ...Call) Turn {
	return Turn{kind: kindReply, text: text, calls: calls}
}

// MaxTokens answers with text cut off by the token limit.
func MaxTokens(text string) Turn {
	return Turn{kind: kindReply, text: text, stop: stopMaxTokens}
}

// Error answers with an HTTP error in the provider's format, for example
// Error(529, "overloaded_error", "Overloaded").
func Error(status int, errType, msg string) Turn {
	return Turn{kind: kindError, status: status, errType: errType, errMsg: msg}
}

// MalformedSSE answers 200 with a stream (or JSON body, if the request did
// not stream) that breaks off in the middle of a JSON payload.
func MalformedSSE() Turn { return Turn{kind: kindMalformed} }

// StreamError starts a normal stream and then sends an error event, as the
// providers do when they fail mid-stream.
func StreamError(errType, msg string) Turn {
	return Turn{kind: kindStreamError, errType: errType, errMsg: msg}
}

// Func decides the turn when the request arrives; it may inspect the
// request (tool results, messages) and call t.Error on the test.
func Func(f func(r *Request) Turn) Turn { return Turn{kind: kindFunc, fn: f} }

// WithUsage sets the input and output tokens reported for the turn.
// Without it they are estimated as a quarter of the request and answer
// sizes in bytes (at least 1); Request.Usage tells what was reported.
func (t Turn) WithUsage(input, output int) Turn {
	t.usage.Input, t.usage.Output = input, output
	t.usageSet = true
	return t
}

// WithCache sets the cached prompt tokens reported for the turn (0 unless set).
func (t Turn) WithCache(read, write int) Turn {
	t.usage.CacheRead, t.usage.CacheWrite = read, write
	return t
}

// PauseAfterFirstEvent makes a streamed answer stop after its first event
// until release is closed (or the client goes away), so a test can observe
// that the first event arrived while the provider was still busy.
func (t Turn) PauseAfterFirstEvent(release <-chan struct{}) Turn {
	t.pause = release
	return t
}
