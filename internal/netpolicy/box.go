package netpolicy

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Decision is the answer to one question put to the policy.
type Decision struct {
	Allow bool
	// Reason says which rule decided, for an audit event
	// (`allowed by allow[0] api.github.com`, `10.0.0.5 is private`).
	Reason string
}

func allow(format string, a ...any) Decision { return Decision{true, fmt.Sprintf(format, a...)} }
func deny(format string, a ...any) Decision  { return Decision{false, fmt.Sprintf(format, a...)} }

// Proto is a transport protocol.
type Proto string

const (
	TCP Proto = "tcp"
	UDP Proto = "udp"
)

// Caps on what a guest can make the host remember: each answer for an allowed
// name pins its addresses, and with a wildcard rule a guest can ask for
// endless names. Past a cap new answers are not pinned (their flows are
// denied: fail closed), old pins stay.
const (
	maxPinnedAddrs  = 16384
	maxNamesPerAddr = 64
)

// Box holds the state of one box under a policy: the DNS answers it was
// given (the pins) and its usage against the limits. Safe for concurrent use.
type Box struct {
	policy *Policy
	limits Limits
	now    func() time.Time

	mu sync.Mutex
	// pins maps an answered address to the names it was answered for.
	// Guarded by mu.
	pins map[netip.Addr]map[string]bool
	// open is the number of flows open now. Guarded by mu.
	open int
	// bytes is the total counted over the box's life. Guarded by mu.
	bytes int64
	// starts is a ring of the start times of the last ConnsPerSecond flows;
	// next is the slot of the oldest. Guarded by mu.
	starts []time.Time
	next   int
}

// NewBox starts the state of one box under p. now is the clock for the rate
// limit (nil: time.Now). The policy must not change afterwards.
func NewBox(p *Policy, now func() time.Time) *Box {
	if now == nil {
		now = time.Now
	}
	l := p.Limits.Effective()
	return &Box{
		policy: p,
		limits: l,
		now:    now,
		pins:   make(map[netip.Addr]map[string]bool),
		starts: make([]time.Time, l.ConnsPerSecond),
	}
}

// Policy returns the policy the box runs under.
func (b *Box) Policy() *Policy { return b.policy }

// DNS decides whether the guest may resolve name. In ModePublic any valid
// name is allowed; in ModeAllowlist a deny rule for the name wins, then an
// allow rule is needed. Ports do not matter here: a rule for
// example.com:443 allows the lookup of example.com.
func (b *Box) DNS(name string) Decision {
	n, err := NormalizeName(name)
	if err != nil {
		return deny("bad name: %v", err)
	}
	if b.policy.IsService(n) {
		return allow("%s is a service of this run", n)
	}
	switch b.policy.Mode {
	case ModePublic:
		return allow("public network")
	case ModeAllowlist:
		if i, r, ok := findName(b.policy.Deny, n, 0); ok {
			return deny("%s denied by deny[%d] %s", n, i, r)
		}
		if i, r, ok := findName(b.policy.Allow, n, 0); ok {
			return allow("%s allowed by allow[%d] %s", n, i, r)
		}
		return deny("%s is not in the allowlist", n)
	}
	return deny("no network")
}

// findName returns the first rule matching name on port (0: any port).
func findName(rules []Rule, name string, port uint16) (int, Rule, bool) {
	for i, r := range rules {
		if r.MatchName(name) && (port == 0 || r.Ports.Contains(port)) {
			return i, r, true
		}
	}
	return 0, Rule{}, false
}

func findAddr(rules []Rule, addr netip.Addr, port uint16, anyPort bool) (int, Rule, bool) {
	for i, r := range rules {
		if r.Name == "" && r.Prefix.Contains(addr) && (anyPort || r.Ports.Contains(port)) {
			return i, r, true
		}
	}
	return 0, Rule{}, false
}

// Dropped is an answer address the guest is not given, and why.
type Dropped struct {
	Addr   netip.Addr
	Reason string
}

// Answer filters the addresses a resolver gave for name (which DNS allowed)
// and pins the ones kept: the guest is only told addresses a flow could
// reach. A special-purpose address (private, loopback, ...) is dropped, which
// is what stops DNS rebinding, unless it is name's own `hosts:` entry or a
// CIDR allow rule covers it.
func (b *Box) Answer(name string, addrs []netip.Addr) (kept []netip.Addr, dropped []Dropped) {
	n, err := NormalizeName(name)
	if err != nil {
		for _, a := range addrs {
			dropped = append(dropped, Dropped{a, "bad name"})
		}
		return nil, dropped
	}
	for _, a := range addrs {
		a = a.Unmap()
		if public, why := Classify(a); !public && !b.exempt(n, a) {
			dropped = append(dropped, Dropped{a, fmt.Sprintf("%s answered %s, which is %s", n, a, why)})
			continue
		}
		if b.deniesEveryPort(a) {
			dropped = append(dropped, Dropped{a, fmt.Sprintf("%s answered %s, which a deny rule covers", n, a)})
			continue
		}
		kept = append(kept, a)
	}
	if b.policy.Mode == ModeAllowlist {
		b.pin(n, kept)
	}
	return kept, dropped
}

// exempt reports whether a special-purpose address may still be used for
// name: in an allowlist, it is name's hosts entry or a CIDR allow rule
// covers it. The public mode exempts nothing: every name is allowed there,
// so a hosts entry to 127.0.0.1 would open host loopback to the guest
// (host_ports is the only way there), and a flow to it is denied anyway;
// the guest is told at once, by the DNS answer.
func (b *Box) exempt(name string, a netip.Addr) bool {
	if b.policy.Mode != ModeAllowlist {
		return false
	}
	if h, ok := b.policy.Hosts[name]; ok && h == a {
		return true
	}
	_, _, ok := findAddr(b.policy.Allow, a, 0, true)
	return ok
}

// deniesEveryPort reports whether a deny rule covers a on every port.
func (b *Box) deniesEveryPort(a netip.Addr) bool {
	for _, r := range b.policy.Deny {
		if r.Name == "" && r.Ports.Any() && r.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

func (b *Box) pin(name string, addrs []netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range addrs {
		names := b.pins[a]
		if names == nil {
			if len(b.pins) >= maxPinnedAddrs {
				continue
			}
			names = make(map[string]bool)
			b.pins[a] = names
		}
		if len(names) < maxNamesPerAddr {
			names[name] = true
		}
	}
}

// pinnedNames returns the names addr was answered for.
func (b *Box) pinnedNames(a netip.Addr) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n := range b.pins[a] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
