// Command voidbox-guest is the guest agent: PID 1 of every voidbox micro-VM.
// Started as `/init agent --config FILE` by the host, the same binary is the
// built-in LLM agent of an agent stage. It is built static (CGO_ENABLED=0)
// and links no host-side package.
package main

import (
	"context"
	"os"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/guest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "agent" && os.Getpid() != 1 {
		os.Exit(agent.Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	guest.Main()
}
