package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Flow is one admitted flow. It holds a slot of the box's flow limit until
// Close and counts the bytes it carries against the byte budget.
type Flow struct {
	box *Box
	// Dst is the destination the flow was admitted for (host loopback for a
	// host port flow).
	Dst netip.AddrPort
	// Names are the allowed names pinned to Dst that admitted the flow; empty
	// when a CIDR rule, the public mode or a host port admitted it.
	Names []string
	// ByName reports that only pinned names admitted the flow, so the name
	// the client speaks (TLS SNI, HTTP Host) must be one of Names.
	ByName bool

	once sync.Once
}

// Open decides a new flow from the guest to dst, dst being the address the
// host would dial, and admits it against the limits. The policy is asked
// first; only an allowed flow counts against (and can trip) the limits.
// Precondition: dst is not host loopback reached through the gateway; use
// OpenHostPort for that.
func (b *Box) Open(proto Proto, dst netip.AddrPort) (*Flow, Decision) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	f, d := b.decide(proto, dst)
	if !d.Allow {
		return nil, d
	}
	if d := b.admit(); !d.Allow {
		return nil, d
	}
	f.box = b
	return f, d
}

// OpenHostPort decides a flow from the guest to the gateway address on port,
// which the host dials as 127.0.0.1:port. Only declared host ports pass.
func (b *Box) OpenHostPort(proto Proto, port uint16) (*Flow, Decision) {
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	if b.policy.Mode == ModeNone {
		return nil, deny("no network")
	}
	if proto != TCP {
		return nil, deny("host port %d: only TCP reaches host ports", port)
	}
	if !b.policy.AllowsHostPort(port) {
		return nil, deny("host port %d is not in host_ports", port)
	}
	if d := b.admit(); !d.Allow {
		return nil, d
	}
	return &Flow{box: b, Dst: dst}, allow("host port %d allowed by host_ports", port)
}

func (b *Box) decide(proto Proto, dst netip.AddrPort) (*Flow, Decision) {
	a, port := dst.Addr(), dst.Port()
	if proto != TCP && proto != UDP {
		return nil, deny("protocol %q not supported", proto)
	}
	if port == 0 {
		return nil, deny("port 0")
	}
	switch b.policy.Mode {
	case ModeNone:
		return nil, deny("no network")
	case ModePublic:
		if public, why := Classify(a); !public {
			return nil, deny("%s is %s", a, why)
		}
		return &Flow{Dst: dst}, allow("%s is public", a)
	}
	if i, r, ok := findAddr(b.policy.Deny, a, port, false); ok {
		return nil, deny("%s denied by deny[%d] %s", dst, i, r)
	}
	public, why := Classify(a)
	var names []string
	var refused []string
	for _, n := range b.pinnedNames(a) {
		if i, r, ok := findName(b.policy.Deny, n, port); ok {
			refused = append(refused, fmt.Sprintf("%s denied by deny[%d] %s", n, i, r))
			continue
		}
		if _, _, ok := findName(b.policy.Allow, n, port); !ok {
			refused = append(refused, fmt.Sprintf("%s not allowed on port %d", n, port))
			continue
		}
		if !public && b.policy.Hosts[n] != a {
			refused = append(refused, fmt.Sprintf("%s resolved to %s, which is %s", n, a, why))
			continue
		}
		names = append(names, n)
	}
	if i, r, ok := findAddr(b.policy.Allow, a, port, false); ok {
		return &Flow{Dst: dst, Names: names}, allow("%s allowed by allow[%d] %s", dst, i, r)
	}
	if len(names) > 0 {
		return &Flow{Dst: dst, Names: names, ByName: true}, allow("%s pinned to %s", dst, strings.Join(names, ", "))
	}
	if len(refused) > 0 {
		return nil, deny("%s: %s", dst, strings.Join(refused, "; "))
	}
	if !public {
		return nil, deny("%s is %s and no rule allows it", a, why)
	}
	return nil, deny("%s was not answered for an allowed name and no CIDR rule allows it", a)
}

// admit takes a flow slot, or says which limit is full.
func (b *Box) admit() Decision {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.limits
	if l.MaxBytes > 0 && b.bytes >= l.MaxBytes {
		return deny("byte limit reached (%d bytes)", l.MaxBytes)
	}
	if b.open >= l.MaxFlows {
		return deny("flow limit reached (%d open)", l.MaxFlows)
	}
	// starts[next] is the oldest of the last ConnsPerSecond starts: if it is
	// less than a second old, one more start would exceed the rate.
	if oldest := b.starts[b.next]; !oldest.IsZero() && now.Sub(oldest) < time.Second {
		return deny("connection rate limit reached (%d per second)", l.ConnsPerSecond)
	}
	b.starts[b.next] = now
	b.next = (b.next + 1) % len(b.starts)
	b.open++
	return Decision{Allow: true}
}

// Unlimited is a flow no box admitted and no limit counts: a host-initiated
// port forward, which is the host's own doing.
func Unlimited(dst netip.AddrPort) *Flow { return &Flow{Dst: dst} }

// Count adds n bytes (either direction) to the box's budget. It returns
// false once the budget is spent: the caller cuts the flow.
func (f *Flow) Count(n int64) bool {
	b := f.box
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes += n
	return b.limits.MaxBytes == 0 || b.bytes <= b.limits.MaxBytes
}

// Close gives the flow's slot back. It is idempotent.
func (f *Flow) Close() {
	f.once.Do(func() {
		if f.box == nil {
			return
		}
		f.box.mu.Lock()
		f.box.open--
		f.box.mu.Unlock()
	})
}

// NeedsName reports whether CheckName can deny this flow, i.e. whether the
// flow must wait for the client's first bytes (TLS SNI, HTTP Host) before
// any of them go upstream. Only a flow admitted by name, or one a name in
// deny could match, needs it; the others are copied from the first byte
// (a protocol whose first message is short and could still be an HTTP
// request line would otherwise stall waiting for more).
func (f *Flow) NeedsName() bool {
	if f.box == nil {
		return false
	}
	if f.ByName {
		return true
	}
	if f.box.policy.Mode != ModeAllowlist {
		return false
	}
	for _, r := range f.box.policy.Deny {
		if r.Name != "" && (f.Dst.Port() == 0 || r.Ports.Contains(f.Dst.Port())) {
			return true
		}
	}
	return false
}

// CheckName decides the server name a client speaks on the flow: the TLS
// SNI or the HTTP Host (kind says which, for the reason). On a flow that
// pinned names admitted, the name must be one of them: an allowed address
// cannot be used to reach another name (domain fronting, shared CDN IPs),
// and a flow with no name at all is cut. On a flow a CIDR rule, a host port
// or the public mode admitted, any name passes that no deny rule names.
func (f *Flow) CheckName(kind, name string) Decision {
	if f.box == nil {
		return allow("%s: unlimited flow", kind)
	}
	p := f.box.policy
	if name == "" {
		if f.ByName {
			return deny("%s: no server name on a flow to %s allowed only for %s", kind, f.Dst.Addr(), strings.Join(f.Names, ", "))
		}
		return allow("%s: no server name; %s allowed by address", kind, f.Dst)
	}
	n, err := NormalizeName(name)
	if err != nil {
		if f.ByName {
			return deny("%s %q: %v", kind, name, err)
		}
		return allow("%s %q is not a name; %s allowed by address", kind, name, f.Dst)
	}
	if p.Mode == ModeAllowlist {
		if i, r, ok := findName(p.Deny, n, f.Dst.Port()); ok {
			return deny("%s %s denied by deny[%d] %s", kind, n, i, r)
		}
	}
	if !f.ByName {
		return allow("%s %s on %s allowed by address", kind, n, f.Dst)
	}
	for _, pinned := range f.Names {
		if pinned == n {
			return allow("%s %s matches the pinned name", kind, n)
		}
	}
	return deny("%s %s is not a name %s was answered for (%s)", kind, n, f.Dst.Addr(), strings.Join(f.Names, ", "))
}
