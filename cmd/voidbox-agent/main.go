// Command voidbox-agent is the built-in LLM agent. The host starts it inside
// an agent stage's VM (`voidbox-agent --config FILE`) as the sandbox user. It
// is a separate binary from the guest init (PID 1) so that every VM's PID 1
// stays small and quick to start, and links no HTTP or model client code.
package main

import (
	"context"
	"os"

	"github.com/voidbox/voidbox/internal/agent"
)

func main() {
	os.Exit(agent.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
