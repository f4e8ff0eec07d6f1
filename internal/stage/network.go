package stage

import (
	"fmt"

	"github.com/voidbox/voidbox/internal/bytesize"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// NetDetail is a stage attempt's network, as its events counted it: flows
// and DNS queries by verdict, and the bytes the flows moved.
type NetDetail struct {
	FlowsAllowed int64 `json:"flows_allowed"`
	FlowsDenied  int64 `json:"flows_denied"`
	DNSAllowed   int64 `json:"dns_allowed"`
	DNSDenied    int64 `json:"dns_denied"`
	BytesIn      int64 `json:"bytes_in"`  // to the guest
	BytesOut     int64 `json:"bytes_out"` // from the guest
}

// closeVM stops the attempt's VM and, when it had a network, records the
// final counters in d: flows end with the VM, so they are only final now.
func closeVM(sb *sandbox.Sandbox, d *Detail) {
	sb.Close()
	if d == nil || !sb.Policy().HasNetwork() {
		return
	}
	st := sb.NetStats()
	d.Network = &NetDetail{
		FlowsAllowed: st.FlowsAllowed, FlowsDenied: st.FlowsDenied,
		DNSAllowed: st.DNSAllowed, DNSDenied: st.DNSDenied,
		BytesIn: st.BytesIn, BytesOut: st.BytesOut,
	}
}

// Summary is the network's part of the report's note.
func (n *NetDetail) Summary() string {
	s := fmt.Sprintf("net %d allowed", n.FlowsAllowed)
	if n.FlowsDenied > 0 {
		s += fmt.Sprintf(", %d denied", n.FlowsDenied)
	}
	if n.DNSDenied > 0 {
		s += fmt.Sprintf(", %d names refused", n.DNSDenied)
	}
	return s + fmt.Sprintf(", %s in, %s out", bytesize.Format(n.BytesIn), bytesize.Format(n.BytesOut))
}
