package event

// Engine events: the pipeline engine's view of a run and its stages.
const (
	TypeRunStarted     Type = "run.started"
	TypeRunFinished    Type = "run.finished"
	TypeStageQueued    Type = "stage.queued"
	TypeStageStarted   Type = "stage.started"
	TypeStageRetrying  Type = "stage.retrying"
	TypeStageSucceeded Type = "stage.succeeded"
	TypeStageFailed    Type = "stage.failed"
	TypeStageSkipped   Type = "stage.skipped"
	TypeStageCancelled Type = "stage.cancelled"
)

// RunStarted is the first event of a run.
type RunStarted struct {
	Stages      []string `json:"stages"`       // every stage, in declaration order
	MaxParallel int      `json:"max_parallel"` // 0: no cap
	// Needs lists, per stage with any, the stages it waits for (data
	// inputs and ordering-only dependencies), so a view can draw the
	// graph. Absent in streams recorded before it existed.
	Needs map[string][]string `json:"needs,omitempty"`
}

// RunFinished is the last event of a run.
type RunFinished struct {
	Status     string `json:"status"` // succeeded, failed or cancelled
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// StageQueued: every dependency succeeded; the stage waits for a slot.
type StageQueued struct{}

// StageStarted: an attempt holds a slot and runs.
type StageStarted struct{}

// StageRetrying: an attempt failed and the next one starts after DelayMS.
type StageRetrying struct {
	Error   string `json:"error"`
	DelayMS int64  `json:"delay_ms"`
}

// StageSucceeded ends a stage that succeeded.
type StageSucceeded struct {
	DurationMS int64 `json:"duration_ms"` // this attempt
	// ExitCode is the command's exit status; nil when the stage ran none
	// to an exit.
	ExitCode    *int `json:"exit_code,omitempty"`
	OutputBytes int  `json:"output_bytes"`
}

// StageFailed ends a stage whose last attempt failed.
type StageFailed struct {
	Error string `json:"error"`
	// ExitCode is the last attempt's exit status; nil when no command ran
	// to an exit (the VM did not boot, the attempt was cut short).
	ExitCode  *int `json:"exit_code,omitempty"`
	Attempts  int  `json:"attempts"`
	Permanent bool `json:"permanent"` // the error was marked not retryable
	// StderrTail is the end of the attempt's stderr (a few lines).
	StderrTail []string `json:"stderr_tail,omitempty"`
}

// StageSkipped ends a stage that never ran because a dependency failed.
type StageSkipped struct {
	Reason      string `json:"reason"`
	FailedStage string `json:"failed_stage"`
}

// StageCancelled ends a stage that was running or waiting when the run's
// context ended.
type StageCancelled struct {
	Reason string `json:"reason"`
}

func (RunStarted) EventType() Type     { return TypeRunStarted }
func (RunFinished) EventType() Type    { return TypeRunFinished }
func (StageQueued) EventType() Type    { return TypeStageQueued }
func (StageStarted) EventType() Type   { return TypeStageStarted }
func (StageRetrying) EventType() Type  { return TypeStageRetrying }
func (StageSucceeded) EventType() Type { return TypeStageSucceeded }
func (StageFailed) EventType() Type    { return TypeStageFailed }
func (StageSkipped) EventType() Type   { return TypeStageSkipped }
func (StageCancelled) EventType() Type { return TypeStageCancelled }

// Final reports whether t ends a stage.
func (t Type) Final() bool {
	switch t {
	case TypeStageSucceeded, TypeStageFailed, TypeStageSkipped, TypeStageCancelled:
		return true
	}
	return false
}
