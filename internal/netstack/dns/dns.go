// Package dns is the guest's DNS server: it reads one query (UDP payload or
// one TCP message), asks the box's policy about the name, resolves allowed
// names on the host (hosts: entries first), filters and pins the answers,
// and writes the reply. A name the policy does not allow gets NXDOMAIN at
// once, without a host lookup. Queries are untrusted guest bytes, parsed
// with golang.org/x/net/dns/dnsmessage.
package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// Resolver looks names up on the host; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Server answers queries for one box. The zero value is not usable: Box and
// Resolver are required.
type Server struct {
	Box      *netpolicy.Box
	Resolver Resolver
	// GuestAddr turns an answer address into the address the guest is told
	// (the host stack aliases host-only addresses such as 127.0.0.1); nil
	// tells the guest the real address.
	GuestAddr func(real netip.Addr) netip.Addr
	// Service returns the guest address of a service of the run
	// (netpolicy.Policy.Services) by its name; nil when there are none.
	// A service's answer is that address alone, never a host lookup.
	Service func(name string) (netip.Addr, bool)
	// Timeout bounds one host lookup; 0 means 5 s.
	Timeout time.Duration
}

// TTL of every answer: short, because the pins outlive it anyway and a
// client that re-asks should see a fresh answer.
const TTL = 30

// maxAnswers keeps a reply well inside 512 bytes.
const maxAnswers = 16

// Query is what one query asked and got, for the audit trail.
type Query struct {
	Name     string // as asked, without the trailing dot
	Type     string // "A", "AAAA", "TXT", ...
	Decision netpolicy.Decision
	RCode    string       // "NoError", "NXDomain", ...
	Addrs    []netip.Addr // real addresses answered (and pinned)
	Dropped  []netpolicy.Dropped
}

// Answer handles one query message. It returns nil when msg is not worth a
// reply (not a query, or too broken to carry an ID).
func (s *Server) Answer(ctx context.Context, msg []byte) ([]byte, Query) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response {
		return nil, Query{RCode: "dropped"}
	}
	reply := dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return build(reply, dnsmessage.RCodeFormatError, nil, nil), Query{RCode: "FORMERR"}
	}
	q := qs[0]
	info := Query{Name: strings.TrimSuffix(q.Name.String(), "."), Type: strings.TrimPrefix(q.Type.String(), "Type")}
	rcode, addrs, asIs := s.resolve(ctx, h, q, &info)
	info.RCode = rcodeName(rcode)
	var answers []dnsmessage.Resource
	for _, a := range addrs {
		g := a
		if s.GuestAddr != nil && !asIs {
			g = s.GuestAddr(a)
		}
		answers = append(answers, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: TTL},
			Body:   &dnsmessage.AResource{A: g.As4()},
		})
	}
	return build(reply, rcode, &q, answers), info
}

// resolve decides and looks up; it fills info and returns the addresses to
// answer (IPv4 only: the guest is offered no IPv6), and whether they are
// guest addresses already (a service's) rather than real ones.
func (s *Server) resolve(ctx context.Context, h dnsmessage.Header, q dnsmessage.Question, info *Query) (dnsmessage.RCode, []netip.Addr, bool) {
	if h.OpCode != 0 {
		info.Decision = netpolicy.Decision{Reason: "only standard queries"}
		return dnsmessage.RCodeNotImplemented, nil, false
	}
	if q.Class != dnsmessage.ClassINET {
		info.Decision = netpolicy.Decision{Reason: "only class IN"}
		return dnsmessage.RCodeRefused, nil, false
	}
	info.Decision = s.Box.DNS(info.Name)
	if !info.Decision.Allow {
		return dnsmessage.RCodeNameError, nil, false
	}
	if q.Type != dnsmessage.TypeA {
		// AAAA, HTTPS, TXT, ...: "no data" at once, so clients move on to A.
		return dnsmessage.RCodeSuccess, nil, false
	}
	name, _ := netpolicy.NormalizeName(info.Name) // DNS allowed it, so it is valid
	if s.Box.Policy().IsService(name) {
		// The name is a service's; its address is the stack's own, so it
		// is answered as is (no lookup, no pin: flows to it go by name).
		if s.Service == nil {
			return dnsmessage.RCodeNameError, nil, false
		}
		a, ok := s.Service(name)
		if !ok {
			info.Decision = netpolicy.Decision{Reason: name + ": no address left for services"}
			return dnsmessage.RCodeNameError, nil, false
		}
		info.Addrs = []netip.Addr{a}
		return dnsmessage.RCodeSuccess, info.Addrs, true
	}
	var found []netip.Addr
	if a, ok := s.Box.Policy().Hosts[name]; ok {
		found = []netip.Addr{a}
	} else {
		t := s.Timeout
		if t == 0 {
			t = 5 * time.Second
		}
		lctx, cancel := context.WithTimeout(ctx, t)
		defer cancel()
		var err error
		found, err = s.Resolver.LookupNetIP(lctx, "ip4", name)
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound {
				return dnsmessage.RCodeNameError, nil, false
			}
			info.Decision.Reason += "; lookup: " + err.Error()
			return dnsmessage.RCodeServerFailure, nil, false
		}
	}
	var v4 []netip.Addr
	for _, a := range found {
		if a = a.Unmap(); a.Is4() {
			v4 = append(v4, a)
		}
	}
	if len(v4) > maxAnswers {
		v4 = v4[:maxAnswers]
	}
	info.Addrs, info.Dropped = s.Box.Answer(name, v4)
	if len(info.Addrs) == 0 && len(info.Dropped) > 0 {
		// Every address was refused (rebinding to private space): the name
		// is unusable here, say so at once.
		info.Decision = netpolicy.Decision{Reason: info.Dropped[0].Reason}
		return dnsmessage.RCodeNameError, nil, false
	}
	return dnsmessage.RCodeSuccess, info.Addrs, false
}

func build(h dnsmessage.Header, rcode dnsmessage.RCode, q *dnsmessage.Question, answers []dnsmessage.Resource) []byte {
	h.RCode = rcode
	h.Authoritative = true
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), h)
	b.EnableCompression()
	if q != nil {
		if b.StartQuestions() != nil || b.Question(*q) != nil {
			return nil
		}
	}
	if b.StartAnswers() != nil {
		return nil
	}
	for _, r := range answers {
		if err := b.AResource(r.Header, *r.Body.(*dnsmessage.AResource)); err != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

// rcodeName is rc as dig and RFC 1035 name it (NXDOMAIN, not NameError):
// the names people look up.
func rcodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return strings.TrimPrefix(rc.String(), "RCode")
}
