// Package tools holds the agent's tool type and its built-in tools: bash
// (through the policy-checked shell), read_file, write_file, edit_file and
// list_dir. MCP tools are adapted to the same type by package mcptools.
package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
)

// Tool is one capability offered to the model.
type Tool struct {
	Name        string
	Description string
	// Schema is the JSON Schema of the input object, passed to the model
	// as is.
	Schema json.RawMessage
	// Call runs the tool. It reports failures in the Result, for the model
	// to read; ctx carries the per-call timeout.
	Call func(ctx context.Context, input json.RawMessage) Result
}

// Result is a tool's answer to the model.
type Result struct {
	Content string
	IsError bool
	// ExitCode is set by tools that run a command (bash).
	ExitCode *int
	// Denied is set when the policy refused at least one command.
	Denied bool
	// Error is a one-line summary for the progress event when IsError.
	Error string
}

// Errorf returns an error Result whose content and summary are the message.
func Errorf(format string, args ...any) Result {
	msg := fmt.Sprintf(format, args...)
	return Result{Content: msg, IsError: true, Error: msg}
}

// nameRE is what both the Anthropic and the OpenAI APIs accept as a tool name.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidName reports whether name is acceptable to every provider.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// decode unmarshals a tool input; an empty input is an empty object.
func decode(input json.RawMessage, v any) error {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	if err := json.Unmarshal(input, v); err != nil {
		return fmt.Errorf("input is not a valid JSON object for this tool: %v", err)
	}
	return nil
}

// Builtin returns every built-in tool.
func Builtin(env Env) []Tool {
	return []Tool{Bash(env), ReadFile(env), WriteFile(env), EditFile(env), ListDir(env)}
}
