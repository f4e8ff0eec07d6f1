package store

import "time"

// RunStatus is where a run is in its life. queued and running are "in
// flight"; the other three are terminal.
type RunStatus string

const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Terminal reports whether s is a final status.
func (s RunStatus) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// Valid reports whether s is one of the statuses above.
func (s RunStatus) Valid() bool {
	return s == RunQueued || s == RunRunning || s.Terminal()
}

// StageStatus is where one stage of a run is. The final four are the values
// of a report's stage status (docs/events.md).
type StageStatus string

const (
	StagePending   StageStatus = "pending"
	StageQueued    StageStatus = "queued"
	StageRunning   StageStatus = "running"
	StageSucceeded StageStatus = "succeeded"
	StageFailed    StageStatus = "failed"
	StageSkipped   StageStatus = "skipped"
	StageCancelled StageStatus = "cancelled"
)

// Terminal reports whether s is a final stage status.
func (s StageStatus) Terminal() bool {
	return s == StageSucceeded || s == StageFailed || s == StageSkipped || s == StageCancelled
}

// Valid reports whether s is one of the statuses above.
func (s StageStatus) Valid() bool {
	return s == StagePending || s == StageQueued || s == StageRunning || s.Terminal()
}

// Run is one submitted run. Times are UTC with the precision the backend
// keeps (nanoseconds everywhere); a zero time means "not yet".
type Run struct {
	ID     string
	Name   string
	Kind   string // what was submitted ("pipeline", "workflow", ...): opaque to the store
	Status RunStatus
	// Spec and Input are the submitted bytes, as sent. ListRuns leaves them
	// and Report nil (they can be large); GetRun fills them.
	Spec           []byte
	Input          []byte
	IdempotencyKey string
	Created        time.Time
	Started        time.Time // set by the change to running
	Ended          time.Time // set by the change to a terminal status
	Error          string
	Report         []byte // the final report as JSON, set when the run ends
	// LastSeq is the id of the run's newest event (0: none yet).
	LastSeq uint64
}

// NewRun is what CreateRun needs; the store assigns the id, status (queued)
// and creation time.
type NewRun struct {
	Name           string
	Kind           string
	Spec           []byte
	Input          []byte
	IdempotencyKey string // empty: no idempotency
}

// RunUpdate changes a run's status. Allowed changes: queued → running,
// queued or running → any terminal status. Time is when it happened (zero:
// now); Error and Report are stored only with a terminal status.
type RunUpdate struct {
	Status RunStatus
	Time   time.Time
	Error  string
	Report []byte // JSON or nil
}

// Stage is the live state of one stage of a run.
type Stage struct {
	Name     string
	Status   StageStatus
	Attempts int
	Started  time.Time
	Ended    time.Time
	ExitCode int
	Error    string
}

// Event is one entry of a run's stream. Seq is assigned by the store
// (AppendEvents rejects a non-zero one); Data is the encoded event, JSON.
type Event struct {
	Seq  uint64
	Type string
	Time time.Time
	Data []byte
}

// OutputInfo describes a stored stage output.
type OutputInfo struct {
	Stage string
	Size  int64
}

// Sandbox is an interactive sandbox the daemon created; Config is its
// configuration as JSON.
type Sandbox struct {
	ID       string
	Config   []byte
	Created  time.Time
	LastUsed time.Time
}

// RunFilter selects runs for ListRuns. Runs come newest first.
type RunFilter struct {
	Status []RunStatus // any of these; empty: all
	Name   string      // exact name; empty: all
	Limit  int         // 1..MaxPageSize; 0: DefaultPageSize
	Cursor string      // from a previous RunPage.Next; empty: from the newest
}

// RunPage is one page of ListRuns. Next is empty on the last page.
type RunPage struct {
	Runs []Run
	Next string
}
