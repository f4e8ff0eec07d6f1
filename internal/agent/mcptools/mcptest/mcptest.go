// Package mcptest is a small MCP server for tests, built with the MCP
// go-sdk. A test binary becomes the server when started with ModeEnv set:
// call MaybeServe first thing in TestMain, and configure the server command
// as the test binary itself (os.Executable) with Env(mode).
//
// Tools: add {a, b} → "a+b=sum"; fail → an error result; crash → the process
// exits while the call is in flight; sleep {ms} → waits.
package mcptest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ModeEnv selects what the test binary does when started as a server.
const ModeEnv = "VOIDBOX_MCPTEST_MODE"

// Modes.
const (
	// Serve serves the tools over stdio.
	Serve = "serve"
	// FailStart writes a diagnostic to stderr and exits 1 before speaking MCP.
	FailStart = "fail-start"
)

// FailMessage is what FailStart writes to stderr.
const FailMessage = "mcptest: cannot open database /nonexistent/db.sqlite"

// Env returns the environment entry that selects mode.
func Env(mode string) string { return ModeEnv + "=" + mode }

// MaybeServe runs the server and exits if ModeEnv is set; otherwise it
// returns at once.
func MaybeServe() {
	switch os.Getenv(ModeEnv) {
	case "":
		return
	case Serve:
		err := NewServer().Run(context.Background(), &mcp.StdioTransport{})
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "mcptest:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case FailStart:
		fmt.Fprintln(os.Stderr, FailMessage)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "mcptest: unknown mode", os.Getenv(ModeEnv))
		os.Exit(2)
	}
}

type addIn struct {
	A int `json:"a" jsonschema:"first addend"`
	B int `json:"b" jsonschema:"second addend"`
}

type sleepIn struct {
	Ms int `json:"ms"`
}

// NewServer returns the test server.
func NewServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mcptest", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Add two integers."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%d+%d=%d", in.A, in.B, in.A+in.B)}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Always fails."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			return nil, nil, errors.New("fail: this tool always fails")
		})
	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "Exits the server process."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			fmt.Fprintln(os.Stderr, "mcptest: crashing on purpose")
			os.Exit(3)
			return nil, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "sleep", Description: "Sleeps."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in sleepIn) (*mcp.CallToolResult, any, error) {
			select {
			case <-time.After(time.Duration(in.Ms) * time.Millisecond):
			case <-ctx.Done():
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slept"}}}, nil, nil
		})
	return s
}

// NewHTTP serves the test server's tools over streamable HTTP; it is closed
// by the caller.
func NewHTTP() *httptest.Server {
	s := NewServer()
	return httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
}
