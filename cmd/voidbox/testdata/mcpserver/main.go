// Command mcpserver is the MCP stdio server the agent end-to-end test runs
// inside a VM: the test MCP server (tool "add") as a standalone binary.
package main

import (
	"os"

	"github.com/voidbox/voidbox/internal/agent/mcptools/mcptest"
)

func main() {
	if os.Getenv(mcptest.ModeEnv) == "" {
		os.Setenv(mcptest.ModeEnv, mcptest.Serve)
	}
	mcptest.MaybeServe()
}
