package pipeline

import (
	"encoding/json"
	"time"
)

// Status is the outcome of a run or a stage.
type Status string

const (
	// StatusPending is a stage that has not finished; it never appears in a
	// report Run returns.
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	// StatusSkipped is a stage that never ran because a stage it depends on
	// failed.
	StatusSkipped Status = "skipped"
	// StatusCancelled is a run, or a stage that was running or waiting, when
	// the run's context ended.
	StatusCancelled Status = "cancelled"
)

// Report is the outcome of a run. In JSON (field names stable, snake_case):
//
//	name, status, started_at, finished_at (RFC 3339), duration_ms,
//	output (final output as text), error (omitted when empty),
//	stages: [StageReport...] in graph declaration order.
type Report struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Started  time.Time     `json:"started_at"`
	Finished time.Time     `json:"finished_at"`
	Duration time.Duration `json:"-"` // duration_ms in JSON
	// Output is the run's final output: Graph.Output combined with
	// Graph.OutputMode, nil unless every output stage succeeded.
	Output []byte        `json:"-"` // output in JSON, as text
	Error  string        `json:"error,omitempty"`
	Stages []StageReport `json:"stages"`
}

// StageReport is the outcome of one stage. In JSON:
//
//	name, status, group, attempts, started_at, finished_at (omitted if the
//	stage never started), duration_ms (first start to end, retries and
//	backoff included), exit_code (omitted when the last attempt ran no
//	command to an end), output_bytes, error and reason (omitted when
//	empty), detail (the runner's Output.Detail, omitted when nil).
type StageReport struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Group    int           `json:"group"`
	Attempts int           `json:"attempts"`
	Started  time.Time     `json:"started_at,omitzero"`
	Finished time.Time     `json:"finished_at,omitzero"`
	Duration time.Duration `json:"-"` // duration_ms in JSON
	// ExitCode and Detail come from the last attempt's Output: ExitCode is
	// nil when that attempt ran no command to an end (cancelled while its
	// VM started, or the VM never booted).
	ExitCode    *int `json:"exit_code,omitempty"`
	OutputBytes int  `json:"output_bytes"`
	// Error is the last attempt's error (failed or cancelled stages).
	Error string `json:"error,omitempty"`
	// Reason says why a stage was skipped or cancelled before it ran.
	Reason string `json:"reason,omitempty"`
	Detail any    `json:"detail,omitempty"`
	// StderrTail is the end of the last attempt's stderr when it failed.
	StderrTail []string `json:"stderr_tail,omitempty"`
	// Service is set for service stages.
	Service *ServiceReport `json:"service,omitempty"`
	// Output is the data of the successful attempt; not in JSON (it can be
	// large, and the run's final output is in Report.Output).
	Output []byte `json:"-"`
}

// ServiceReport is how a service stage's last attempt went.
type ServiceReport struct {
	// ReadyMS is the time from the attempt's start (boot included) to ready;
	// 0 if it never became ready.
	ReadyMS int64 `json:"ready_ms"`
	// UptimeMS is the time from ready to its end.
	UptimeMS int64 `json:"uptime_ms,omitempty"`
	// ExitReason says how a ready service ended: "stopped: ..." by the run,
	// "exited: ..." on its own.
	ExitReason string `json:"exit_reason,omitempty"`
}

// Stage returns the report of the named stage, or nil.
func (r *Report) Stage(name string) *StageReport {
	for i := range r.Stages {
		if r.Stages[i].Name == name {
			return &r.Stages[i]
		}
	}
	return nil
}

type reportJSON struct {
	DurationMS int64  `json:"duration_ms"`
	Output     string `json:"output"`
}

// MarshalJSON adds duration_ms and output (as text, invalid UTF-8 replaced).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		reportJSON
	}{plain(r), reportJSON{r.Duration.Milliseconds(), string(r.Output)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	var v struct {
		plain
		reportJSON
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Report(v.plain)
	r.Duration = time.Duration(v.DurationMS) * time.Millisecond
	if v.reportJSON.Output != "" {
		r.Output = []byte(v.reportJSON.Output)
	}
	return nil
}

// MarshalJSON adds duration_ms.
func (s StageReport) MarshalJSON() ([]byte, error) {
	type plain StageReport
	return json.Marshal(struct {
		plain
		DurationMS int64 `json:"duration_ms"`
	}{plain(s), s.Duration.Milliseconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *StageReport) UnmarshalJSON(b []byte) error {
	type plain StageReport
	var v struct {
		plain
		DurationMS int64 `json:"duration_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = StageReport(v.plain)
	s.Duration = time.Duration(v.DurationMS) * time.Millisecond
	return nil
}
