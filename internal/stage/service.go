package stage

import (
	"context"
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// readyPoll is how often a service's output file is looked for: a stat
// round trip costs ~10 ms of the guest under TCG.
const readyPoll = 100 * time.Millisecond

// RunService runs one attempt of a service stage (mode: service): its
// command (or agent) starts as usual; it is ready when its output file
// appears in the guest, and keeps running, with its VM, until ctx ends or
// it exits.
func (r *Runner) RunService(ctx context.Context, n *pipeline.Node, attempt int, input []byte, emit func(event.Data), ready func(pipeline.Output)) (pipeline.Output, error) {
	return r.runAttempt(ctx, n, attempt, input, emit, ready)
}

// execute runs cmd; with a ready callback (a service) it also watches for
// the output file while the command runs and calls ready once with its
// content. A service whose context ends before it was ready gets an error
// saying the file never appeared.
func execute(ctx context.Context, sb *sandbox.Sandbox, cmd sandbox.Cmd, output string, ready func(pipeline.Output), d *Detail) (*sandbox.Result, error) {
	if ready == nil {
		return sb.Exec(ctx, cmd)
	}
	type result struct {
		res *sandbox.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := sb.Exec(ctx, cmd)
		done <- result{res, err}
	}()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	poll, isReady := tick.C, false
	for {
		select {
		case r := <-done: // the owner waits here for the Exec goroutine, whatever happens
			if r.err != nil && !isReady && ctx.Err() != nil {
				return r.res, fmt.Errorf("its output file %s never appeared", output)
			}
			return r.res, r.err
		case <-poll:
			_, ok, err := sb.Stat(ctx, output)
			if err != nil || !ok {
				continue // the command's end or ctx's will say what went wrong
			}
			data, err := sb.ReadFile(ctx, output)
			if err != nil {
				continue
			}
			poll, isReady = nil, true
			ready(pipeline.Output{Data: data, Detail: d})
		}
	}
}
