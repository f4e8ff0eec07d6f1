package event

// Service events: a stage in service mode (a long-running stage that its
// dependants use while it runs).
const (
	TypeServiceReady   Type = "service.ready"
	TypeServiceStopped Type = "service.stopped"
)

// ServiceReady: the service is ready (its output file appeared); its
// dependants start now. ReadyMS counts from the attempt's start, boot
// included.
type ServiceReady struct {
	ReadyMS     int64 `json:"ready_ms"`
	OutputBytes int   `json:"output_bytes"`
}

// ServiceStopped: a ready service ended. Reason is "stopped: ..." when the
// run stopped it (its other stages finished, or it was cancelled) and
// "exited: ..." when it ended on its own, which fails the run. The stage's
// final event follows.
type ServiceStopped struct {
	UptimeMS int64  `json:"uptime_ms"` // since ready
	Reason   string `json:"reason"`
}

func (ServiceReady) EventType() Type   { return TypeServiceReady }
func (ServiceStopped) EventType() Type { return TypeServiceStopped }
