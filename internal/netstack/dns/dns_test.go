package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// table is a Resolver over a fixed map; names not in it are not found.
type table map[string][]netip.Addr

func (t table) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip4" {
		return nil, &net.DNSError{Err: "bad network " + network, Name: host}
	}
	if a, ok := t[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func query(t testing.TB, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242, RecursionDesired: true})
	_ = b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newServer(t testing.TB) *Server {
	p, err := netpolicy.Parse(map[string]any{
		"allow": []any{"example.test", "public.test", "rebind.test", "missing.test"},
		"hosts": map[string]any{"example.test": "127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Server{
		Box: netpolicy.NewBox(p, nil),
		Resolver: table{
			"public.test": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("2606:2800::1")},
			"rebind.test": {netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("127.0.0.1")},
			"other.test":  {netip.MustParseAddr("1.1.1.1")},
		},
		GuestAddr: func(a netip.Addr) netip.Addr {
			if a.IsLoopback() {
				return netip.MustParseAddr("198.18.0.1")
			}
			return a
		},
	}
}

func parseReply(t *testing.T, b []byte) (dnsmessage.Header, []netip.Addr) {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	if m.Header.ID != 4242 || !m.Header.Response {
		t.Fatalf("header %+v", m.Header)
	}
	var out []netip.Addr
	for _, r := range m.Answers {
		out = append(out, netip.AddrFrom4(r.Body.(*dnsmessage.AResource).A))
	}
	return m.Header, out
}

func TestAnswers(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		typ    dnsmessage.Type
		rcode  dnsmessage.RCode
		addrs  string
		reason string
	}{
		{"public.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "93.184.216.34", "allowed by allow[1]"},
		{"PUBLIC.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "93.184.216.34", "allow"},
		{"public.test.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, "", "allow"},
		{"example.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "198.18.0.1", "allow"},
		{"other.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "", "not in the allowlist"},
		{"other.test.", dnsmessage.TypeAAAA, dnsmessage.RCodeNameError, "", "not in the allowlist"},
		{"rebind.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "", "rebind.test answered 10.0.0.5, which is private"},
		{"missing.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "", "allow"},
	}
	for _, c := range cases {
		out, q := s.Answer(ctx, query(t, c.name, c.typ))
		h, addrs := parseReply(t, out)
		var got []string
		for _, a := range addrs {
			got = append(got, a.String())
		}
		if h.RCode != c.rcode || strings.Join(got, ",") != c.addrs || !strings.Contains(q.Decision.Reason, c.reason) {
			t.Errorf("%s %v: rcode %v answers %v reason %q", c.name, c.typ, h.RCode, got, q.Decision.Reason)
		}
	}
	// The answers were pinned with their real addresses.
	if f, d := s.Box.Open(netpolicy.TCP, netip.MustParseAddrPort("127.0.0.1:443")); !d.Allow {
		t.Errorf("hosts answer not pinned: %s", d.Reason)
	} else {
		f.Close()
	}
	if f, d := s.Box.Open(netpolicy.TCP, netip.MustParseAddrPort("93.184.216.34:443")); !d.Allow {
		t.Errorf("answer not pinned: %s", d.Reason)
	} else {
		f.Close()
	}
}

func TestMalformedQueries(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	if out, _ := s.Answer(ctx, []byte{1, 2, 3}); out != nil {
		t.Error("a 3-byte message got a reply")
	}
	// Two questions: FORMERR with the same ID.
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242})
	_ = b.StartQuestions()
	for _, n := range []string{"a.test.", "b.test."} {
		_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(n), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	}
	two, _ := b.Finish()
	out, _ := s.Answer(ctx, two)
	if h, _ := parseReply(t, out); h.RCode != dnsmessage.RCodeFormatError {
		t.Errorf("two questions: %v", h.RCode)
	}
	// A response is never answered (no reflection loops).
	resp := query(t, "public.test.", dnsmessage.TypeA)
	resp[2] |= 0x80
	if out, _ := s.Answer(ctx, resp); out != nil {
		t.Error("a response got a reply")
	}
	// Class CHAOS: refused.
	b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("version.bind."), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassCHAOS})
	chaos, _ := b.Finish()
	out, _ = s.Answer(ctx, chaos)
	if h, _ := parseReply(t, out); h.RCode != dnsmessage.RCodeRefused {
		t.Errorf("chaos: %v", h.RCode)
	}
}
