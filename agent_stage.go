package voidbox

import (
	"context"
	"errors"

	"github.com/voidbox/voidbox/internal/pipeline"
)

// agentSpec holds an agent stage's LLM, skills and runtime settings.
type agentSpec struct{}

// errAgentUnavailable is returned for agent stages until the agent runtime
// lands; it is permanent, so the stage is not retried.
var errAgentUnavailable = errors.New("agent stages (prompt) are not available yet: use exec stages")

func (r *stageRunner) runAgent(ctx context.Context, sb *Sandbox, p stagePayload, attempt int, input []byte, emit func(pipeline.Event), d *StageDetail) (pipeline.Output, error) {
	return pipeline.Output{Detail: d}, pipeline.Permanent(errAgentUnavailable)
}
