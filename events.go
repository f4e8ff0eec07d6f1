package voidbox

import "github.com/voidbox/voidbox/internal/event"

// The payloads of a run's events (docs/events.md), one type per event type.
type (
	EventRunStarted     = event.RunStarted
	EventRunFinished    = event.RunFinished
	EventStageQueued    = event.StageQueued
	EventStageStarted   = event.StageStarted
	EventStageRetrying  = event.StageRetrying
	EventStageSucceeded = event.StageSucceeded
	EventStageFailed    = event.StageFailed
	EventStageSkipped   = event.StageSkipped
	EventStageCancelled = event.StageCancelled
	EventVMBooted       = event.VMBooted
	EventExecOutput     = event.ExecOutput
	EventExecDenied     = event.ExecDenied
	EventAgentStarted   = event.AgentStarted
	EventAgentTurn      = event.AgentTurn
	EventAgentToolCall  = event.AgentToolCall
	EventAgentDenied    = event.AgentDenied
	EventAgentFinished  = event.AgentFinished
	EventLLMRequest     = event.LLMRequest
)
