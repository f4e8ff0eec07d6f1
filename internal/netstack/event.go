package netstack

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// EventKind is the verdict an event records.
type EventKind string

// Each DNS query and each flow is reported exactly once, with its final
// verdict: a query when it is answered, a refused flow when it is refused,
// an admitted flow when it ends (with its bytes). A flow that was admitted
// and then cut by the policy (the name it spoke, the byte budget) is
// Denied, not Allowed: counting it both ways would make the report's
// totals lie.
const (
	// Allowed: a query the policy answered, or an admitted flow that ended
	// without the policy cutting it (the event carries its bytes).
	Allowed EventKind = "allowed"
	// Denied: a query or flow the policy refused, or an admitted flow it
	// cut (carrying the bytes it moved before the cut).
	Denied EventKind = "denied"
)

// Event is one audit record. It names no box: the caller adds that.
type Event struct {
	Time  time.Time
	Kind  EventKind
	Proto string // "tcp", "udp", "icmp", "dns" (a query), "forward" (host→guest)
	// Name is the destination name: the DNS query, the names pinned to IP,
	// or the SNI/Host seen on the flow; empty when none is known.
	Name   string
	IP     netip.Addr // the real destination (host loopback for a host port)
	Port   uint16
	Reason string
	// BytesIn went to the guest, BytesOut came from it.
	BytesIn, BytesOut int64
	// Duration is how long an admitted flow lasted (0 for refusals).
	Duration time.Duration
}

// Stats are the box's counters for a report: flows and queries by
// verdict (as the events report them) and the bytes of every flow.
type Stats struct {
	FlowsAllowed, FlowsDenied int64
	DNSAllowed, DNSDenied     int64
	BytesIn, BytesOut         int64
	// Giants are frames dropped for being longer than the MTU allows.
	Giants int64
}

type counters struct {
	flowsAllowed, flowsDenied atomic.Int64
	dnsAllowed, dnsDenied     atomic.Int64
	bytesIn, bytesOut         atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		FlowsAllowed: c.flowsAllowed.Load(), FlowsDenied: c.flowsDenied.Load(),
		DNSAllowed: c.dnsAllowed.Load(), DNSDenied: c.dnsDenied.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
	}
}

// report counts a flow's verdict and emits its event.
func (n *Stack) report(ev Event) {
	if ev.Kind == Allowed {
		n.stats.flowsAllowed.Add(1)
	} else {
		n.stats.flowsDenied.Add(1)
	}
	n.emit(ev)
}

// deny reports a refused flow.
func (n *Stack) deny(ev Event) {
	ev.Kind = Denied
	n.report(ev)
}
