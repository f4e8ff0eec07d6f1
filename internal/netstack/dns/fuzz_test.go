package dns

import (
	"context"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzAnswer: any guest bytes give either no reply or a reply that parses,
// carries the query's ID and answers only pinned addresses.
func FuzzAnswer(f *testing.F) {
	for _, n := range []string{"public.test.", "example.test.", "other.test.", "rebind.test."} {
		f.Add(query(f, n, dnsmessage.TypeA))
	}
	f.Add(query(f, "public.test.", dnsmessage.TypeAAAA))
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := newServer(t)
		out, q := s.Answer(context.Background(), msg)
		if out == nil {
			return
		}
		var m dnsmessage.Message
		if err := m.Unpack(out); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if len(msg) >= 2 && m.Header.ID != uint16(msg[0])<<8|uint16(msg[1]) {
			t.Fatalf("reply ID %d", m.Header.ID)
		}
		if len(m.Answers) != len(q.Addrs) {
			t.Fatalf("%d answers, %d pinned", len(m.Answers), len(q.Addrs))
		}
		if len(m.Answers) > 0 && !q.Decision.Allow {
			t.Fatalf("answers for a denied name: %+v", q)
		}
	})
}
