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
// the output file while the command runs, and for its declared ports to
// answer, and calls ready once: with the file's content when the file
// appeared, with no output when the ports answered first. A service whose
// context ends before it was ready gets an error saying what never
// happened.
func execute(ctx context.Context, sb *sandbox.Sandbox, cmd sandbox.Cmd, box *Box, ready func(pipeline.Output), d *Detail) (*sandbox.Result, error) {
	if ready == nil {
		return sb.Exec(ctx, cmd)
	}
	output := box.Output()
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
				if len(box.ServicePorts) > 0 {
					return r.res, fmt.Errorf("its output file %s never appeared and its ports %v never all answered", output, box.ServicePorts)
				}
				return r.res, fmt.Errorf("its output file %s never appeared", output)
			}
			return r.res, r.err
		case <-poll:
			_, ok, err := sb.Stat(ctx, output)
			if err != nil || !ok {
				if len(box.ServicePorts) > 0 && portsReady(ctx, sb, box.ServicePorts) {
					poll, isReady = nil, true
					ready(pipeline.Output{Detail: d})
				}
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

// readyHook is ready for box's attempt in sb: its ports are published for
// its dependants first. nil stays nil (not a service).
func (r *Runner) readyHook(box *Box, sb *sandbox.Sandbox, ready func(pipeline.Output)) func(pipeline.Output) {
	if ready == nil {
		return nil
	}
	return func(o pipeline.Output) {
		r.publishService(box, sb)
		ready(o)
	}
}
