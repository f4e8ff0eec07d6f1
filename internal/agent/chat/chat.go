// Package chat is the agent's view of a model: a provider-neutral
// conversation (text, tool calls, tool results), and streaming clients for
// the Anthropic Messages API and OpenAI-compatible Chat Completions APIs
// (OpenAI, vLLM, Ollama's /v1).
//
// Both clients talk to the in-guest endpoint that tunnels to the host's
// gateway; the gateway adds the real key, so the clients send PlaceholderKey.
package chat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// PlaceholderKey is the credential the clients present. The gateway
// replaces it with the real key; it is not a secret.
const PlaceholderKey = "voidbox-gateway-placeholder"

// Role is who said a message.
type Role string

const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one turn of the conversation. A user message carries Text or
// tool Results; an assistant message carries Text and/or tool Calls.
type Message struct {
	Role    Role
	Text    string
	Calls   []ToolCall
	Results []ToolResult
}

// ToolCall is the model asking for a tool. Input is the JSON the model
// produced; it may be invalid when the answer was cut off.
type ToolCall struct {
	ID    string
	Name  string
	Input json.RawMessage
}

// ToolResult answers the ToolCall with the same ID.
type ToolResult struct {
	CallID  string
	Content string
	IsError bool
}

// ToolSpec describes a tool to the model.
type ToolSpec struct {
	Name        string
	Description string
	Schema      json.RawMessage // JSON Schema of the input object
}

// Request is one model call.
type Request struct {
	Model     string
	MaxTokens int
	System    string
	Messages  []Message
	Tools     []ToolSpec
}

// Response is the model's answer.
type Response struct {
	Text  string
	Calls []ToolCall
	// StopReason is the provider's own word (end_turn, tool_use,
	// max_tokens; stop, tool_calls, length).
	StopReason string
	// InputTokens counts the whole prompt, cached parts included.
	InputTokens  int64
	OutputTokens int64
}

// Message returns the response as the assistant message to append to the
// conversation.
func (r Response) Message() Message {
	return Message{Role: Assistant, Text: r.Text, Calls: r.Calls}
}

// ProviderError is an error answer from the provider (or the gateway in
// front of it): an HTTP error status, or an error event inside a stream.
type ProviderError struct {
	Provider string // "anthropic" | "openai"
	// Status is the HTTP status; 0 for an error event in a stream that had
	// started with 200.
	Status  int
	Type    string // the provider's error type, e.g. overloaded_error
	Message string // the provider's message
}

func (e *ProviderError) Error() string {
	where := "error event in stream"
	if e.Status != 0 {
		where = strings.TrimSpace(fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status)))
	}
	msg := e.Message
	if e.Type != "" {
		msg = e.Type + ": " + msg
	}
	return fmt.Sprintf("%s: %s: %s", e.Provider, where, msg)
}

// validInput returns the call's input if it is a JSON object, else {}:
// providers reject a conversation whose tool call input is not an object,
// and a cut-off call must still be answerable.
func validInput(in json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(in, &obj) != nil || obj == nil {
		return json.RawMessage("{}")
	}
	return in
}
