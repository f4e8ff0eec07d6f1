// Command voidbox runs commands, agents and pipelines in micro-VMs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/voidbox/voidbox/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(cli.Interrupted{Signal: s})
		<-sigs // a second signal: stop waiting for a clean teardown
		os.Exit(130)
	}()
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
