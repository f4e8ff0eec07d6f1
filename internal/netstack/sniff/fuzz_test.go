package sniff

import (
	"crypto/tls"
	"testing"
)

// FuzzSniff: guest bytes never panic the sniffer; a TLS name it reports is
// the one crypto/tls's server would see, so a client cannot show the policy
// one name and the server another.
func FuzzSniff(f *testing.F) {
	f.Add(clientHello(f, &tls.Config{ServerName: "seed.test"}))
	f.Add(clientHello(f, &tls.Config{ServerName: "seed.test", MaxVersion: tls.VersionTLS12}))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: seed.test\r\n\r\n"))
	f.Add([]byte("GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n"))
	f.Add([]byte("SSH-2.0-x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Sniff(b)
		if err != nil {
			return
		}
		if r.Kind == TLS {
			if name, parsed := goServerName(b); parsed && name != r.Name {
				t.Fatalf("sniffed %q, crypto/tls sees %q", r.Name, name)
			}
		}
	})
}
