package sniff

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// clientHello returns the first bytes a real crypto/tls client sends.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c := &recordConn{}
	_ = tls.Client(c, cfg).Handshake() // fails at the first read; the hello is written
	if c.buf.Len() == 0 {
		t.Fatal("no ClientHello written")
	}
	return c.buf.Bytes()
}

// recordConn keeps what is written and reads EOF; replay serves a fixed
// input to a crypto/tls server and discards its answers.
type recordConn struct {
	buf    bytes.Buffer
	replay io.Reader
}

func (c *recordConn) Read(p []byte) (int, error) {
	if c.replay == nil {
		return 0, io.EOF
	}
	return c.replay.Read(p)
}
func (c *recordConn) Write(p []byte) (int, error)      { return c.buf.Write(p) }
func (c *recordConn) Close() error                     { return nil }
func (c *recordConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *recordConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *recordConn) SetDeadline(time.Time) error      { return nil }
func (c *recordConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// goServerName is what a crypto/tls server sees as the SNI of b, and
// whether it parsed the ClientHello at all.
func goServerName(b []byte) (string, bool) {
	var name string
	var parsed bool
	errStop := errors.New("stop")
	srv := tls.Server(&recordConn{replay: bytes.NewReader(b)}, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			name, parsed = h.ServerName, true
			return nil, errStop
		},
	})
	_ = srv.Handshake()
	return name, parsed
}

func TestServerNameOfRealClients(t *testing.T) {
	for _, cfg := range []*tls.Config{
		{ServerName: "Example.Test"},
		{ServerName: "a.b.example.test", MaxVersion: tls.VersionTLS12},
		{ServerName: "x.test", NextProtos: []string{"h2", "http/1.1"}, CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}},
		{ServerName: "10.0.0.1"}, // crypto/tls sends no SNI for an IP
	} {
		hello := clientHello(t, cfg)
		want := cfg.ServerName
		if want == "10.0.0.1" {
			want = ""
		}
		r, err := Sniff(hello)
		if err != nil || r.Kind != TLS || !strings.EqualFold(r.Name, want) || r.ECH {
			t.Errorf("%s: %+v, %v", cfg.ServerName, r, err)
		}
		// Every strict prefix needs more bytes, never a wrong answer.
		for i := 1; i < len(hello); i += 7 {
			if _, err := Sniff(hello[:i]); err != ErrMore {
				t.Fatalf("%s: prefix %d: %v", cfg.ServerName, i, err)
			}
		}
	}
}

// A ClientHello fragmented over many records (legal, and a classic way to
// slip past a sniffer that reads one record) still yields its name.
func TestServerNameFragmented(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "frag.test"})
	body := hello[5:]
	var frag []byte
	for len(body) > 0 {
		n := min(3, len(body))
		frag = append(frag, 22, 3, 1, 0, byte(n))
		frag = append(frag, body[:n]...)
		body = body[n:]
	}
	r, err := Sniff(frag)
	if err != nil || r.Name != "frag.test" {
		t.Fatalf("%+v, %v", r, err)
	}
	if name, ok := goServerName(frag); !ok || name != "frag.test" {
		t.Fatalf("crypto/tls disagrees: %q %v", name, ok)
	}
}

func TestServerNameRejects(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "ok.test"})
	alert := append([]byte{21, 3, 3, 0, 2}, 1, 0)
	cases := map[string][]byte{
		"not a handshake record": append(append([]byte{}, hello[:5]...), alert...)[5:],
		"record type mid-hello":  append(append([]byte{22, 3, 1, 0, 4}, hello[5:9]...), alert...),
		"not a ClientHello":      {22, 3, 1, 0, 4, 2, 0, 0, 0},
		"zero-length record":     {22, 3, 1, 0, 0},
		"bad version":            {22, 2, 0, 0, 4, 1, 0, 0, 0},
		"truncated body":         {22, 3, 1, 0, 4, 1, 0, 0, 0},
		"huge hello":             {22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff},
	}
	cases["not a handshake record"] = alert
	for name, b := range cases {
		r, err := Sniff(b)
		if name == "not a handshake record" {
			if err != nil || r.Kind != Opaque {
				t.Errorf("%s: %+v %v", name, r, err)
			}
			continue
		}
		if err == nil || err == ErrMore {
			t.Errorf("%s: %+v, %v", name, r, err)
		}
	}
}

func TestECHFlagged(t *testing.T) {
	// Build a hello with an extra encrypted_client_hello extension by hand.
	hello := clientHello(t, &tls.Config{ServerName: "outer.test", MaxVersion: tls.VersionTLS12})
	b := append([]byte{}, hello...)
	// Append ext 0xfe0d with 1 byte of payload; fix the three lengths.
	b = append(b, 0xfe, 0x0d, 0, 1, 0)
	grow := func(off, size, by int) {
		v := 0
		for i := 0; i < size; i++ {
			v = v<<8 | int(b[off+i])
		}
		v += by
		for i := size - 1; i >= 0; i-- {
			b[off+i] = byte(v)
			v >>= 8
		}
	}
	grow(3, 2, 5) // record length
	grow(6, 3, 5) // handshake length
	// extensions length: after version(2) random(32) sid cs comp
	p := 9 + 2 + 32
	p += 1 + int(b[p])
	p += 2 + (int(b[p])<<8 | int(b[p+1]))
	p += 1 + int(b[p])
	grow(p, 2, 5)
	r, err := Sniff(b)
	if err != nil || !r.ECH || r.Name != "outer.test" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestHTTPHost(t *testing.T) {
	good := map[string]string{
		"GET / HTTP/1.1\r\nHost: Example.Test\r\n\r\n":                  "example.test",
		"GET / HTTP/1.1\r\nHost: example.test:8080\r\nX: y\r\n\r\nbody": "example.test",
		"\r\n\r\nPOST /x HTTP/1.1\r\nHost: a.test\r\n\r\n":              "a.test",
		"GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n":          "a.test",
		"GET http://a.test/x HTTP/1.1\r\n\r\n":                          "a.test",
		"GET / HTTP/1.0\r\n\r\n":                                        "",
		"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n":       "a.test",
		"GET / HTTP/1.1\nHost: lf.test\n\n":                             "lf.test",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n":                      "::1",
	}
	for in, want := range good {
		r, err := Sniff([]byte(in))
		if err != nil || r.Kind != HTTP || r.Name != want {
			t.Errorf("%q: %+v, %v; want %q", in, r, err, want)
		}
	}
	bad := []string{
		"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
		"GET http://evil.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a.test\r\n\r\n",
		"GET / HTTP/9\r\n\r\n",
		"GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", MaxPrefix/6) + "\r\n",
	}
	for _, in := range bad {
		if r, err := Sniff([]byte(in)); err == nil || err == ErrMore {
			t.Errorf("%q: %+v, %v", in[:min(len(in), 60)], r, err)
		}
	}
	for _, partial := range []string{"G", "GET", "GET ", "GET /", "GET / HT", "GET / HTTP/1.1\r\nHost: a"} {
		if _, err := Sniff([]byte(partial)); err != ErrMore {
			t.Errorf("%q: %v", partial, err)
		}
	}
	if _, err := Sniff([]byte(strings.Repeat("A", MaxPrefix))); err == nil || err == ErrMore {
		t.Errorf("an endless method token is not refused: %v", err)
	}
}

// Anything that cannot start TLS or HTTP is opaque at once, including a
// server-first protocol's client banner such as SSH's.
func TestOpaque(t *testing.T) {
	for _, in := range []string{"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "\x00\x01binary", "hello\x00", "get\t/", "GET /x y\r\n", "GET / FTP/1\r\n", "*1\r\n$4\r\nPING\r\n"} {
		r, err := Sniff([]byte(in))
		if err != nil || r.Kind != Opaque {
			t.Errorf("%q: %+v, %v", in, r, err)
		}
	}
}
