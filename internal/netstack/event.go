package netstack

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// EventKind says what happened to a flow.
type EventKind string

const (
	// Allowed: the policy admitted a new flow or answered a DNS query.
	Allowed EventKind = "allowed"
	// Denied: a flow or query was refused, or an admitted flow was cut
	// because the name it spoke (SNI, Host) is not allowed.
	Denied EventKind = "denied"
	// Closed: an admitted flow ended; the event carries its bytes.
	Closed EventKind = "closed"
)

// Event is one audit record. It names no box: the caller adds that.
type Event struct {
	Time  time.Time
	Kind  EventKind
	Proto string // "tcp", "udp", "dns" (a query), "forward" (host→guest)
	// Name is the destination name: the DNS query, the names pinned to IP,
	// or the SNI/Host seen on the flow; empty when none is known.
	Name   string
	IP     netip.Addr // the real destination (host loopback for a host port)
	Port   uint16
	Reason string
	// BytesIn went to the guest, BytesOut came from it; set on Closed.
	BytesIn, BytesOut int64
}

// Stats are the box's counters for a report.
type Stats struct {
	FlowsAllowed, FlowsDenied int64
	DNSAllowed, DNSDenied     int64
	BytesIn, BytesOut         int64
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
