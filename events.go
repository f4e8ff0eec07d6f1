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
	EventVMQueued       = event.VMQueued
	EventVMAdmitted     = event.VMAdmitted
	EventVMBooted       = event.VMBooted
	EventExecOutput     = event.ExecOutput
	EventExecDenied     = event.ExecDenied
	EventVMStats        = event.VMStats
	EventAgentStarted   = event.AgentStarted
	EventAgentTurn      = event.AgentTurn
	EventAgentToolCall  = event.AgentToolCall
	EventAgentDenied    = event.AgentDenied
	EventAgentFinished  = event.AgentFinished
	EventLLMRequest     = event.LLMRequest
	EventSkillFetched   = event.SkillFetched
	EventServiceReady   = event.ServiceReady
	EventServiceStopped = event.ServiceStopped
	EventNetAllowed     = event.NetAllowed
	EventNetDenied      = event.NetDenied
	// EventNetFlow is what both network events say about a flow or query.
	EventNetFlow = event.NetFlow
)
