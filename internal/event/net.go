package event

import (
	"strconv"
	"strings"
)

// Network events: the host's network stack of a box decided a flow or a
// DNS query. Each flow and each query is reported once, with its final
// verdict: a refusal when it is refused, an admitted flow when it ends
// (with its bytes), a flow the policy cut after admitting it (the server
// name it spoke, the byte budget) as a denial. Only the host emits them; a
// guest's stream cannot carry them.
const (
	TypeNetAllowed Type = "net.allowed"
	TypeNetDenied  Type = "net.denied"
)

// NetFlow is what both network events say about a flow or query.
type NetFlow struct {
	Box   string `json:"box"`
	Proto string `json:"proto"` // tcp, udp, icmp, dns (a query), forward (host→guest)
	// Name is the destination's name: the query, the names the address was
	// answered for, or the TLS SNI / HTTP Host the flow spoke.
	Name string `json:"name,omitempty"`
	IP   string `json:"ip,omitempty"` // the real destination (127.0.0.1 for a host port)
	Port int    `json:"port,omitempty"`
	// Reason says which rule decided, and how the flow ended.
	Reason     string  `json:"reason"`
	BytesIn    int64   `json:"bytes_in,omitempty"`  // to the guest
	BytesOut   int64   `json:"bytes_out,omitempty"` // from the guest
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// NetAllowed: a query answered, or an admitted flow that ended.
type NetAllowed struct{ NetFlow }

// NetDenied: a query or flow refused, or an admitted flow cut.
type NetDenied struct{ NetFlow }

func (NetAllowed) EventType() Type { return TypeNetAllowed }
func (NetDenied) EventType() Type  { return TypeNetDenied }

// Target names what the flow or query went to, for a line of text:
// "dns other.test", "tcp example.test 127.0.0.1:443", "icmp 198.18.0.9".
func (f NetFlow) Target() string {
	s := f.Proto
	if f.Name != "" {
		s += " " + f.Name
	}
	switch {
	case f.Proto == "dns" || f.IP == "":
	case f.Port != 0 && strings.Contains(f.IP, ":"):
		s += " [" + f.IP + "]:" + strconv.Itoa(f.Port)
	case f.Port != 0:
		s += " " + f.IP + ":" + strconv.Itoa(f.Port)
	default:
		s += " " + f.IP
	}
	return s
}
