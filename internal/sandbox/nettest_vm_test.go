// busybox wget's own TLS client (the guest has no openssl) sends no
// signature_algorithms, so a TLS 1.2 server may only sign with SHA-1,
// which Go's server refuses unless this is set. It weakens the test
// servers only; voidbox never terminates TLS.
//
//go:debug tlssha1=1
package sandbox_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// The stand-ins for the internet of the network VM tests: servers on
// 127.0.0.1 only, given real-looking names through `hosts:` (or through a
// table resolver, for answers `hosts:` would exempt from the rules).

// netEvents collects a sandbox's network events.
type netEvents struct {
	mu sync.Mutex
	ev []event.NetFlow
	ok []bool // allowed?
}

func (l *netEvents) add(d event.Data) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := d.(type) {
	case event.NetAllowed:
		l.ev, l.ok = append(l.ev, e.NetFlow), append(l.ok, true)
	case event.NetDenied:
		l.ev, l.ok = append(l.ev, e.NetFlow), append(l.ok, false)
	}
}

// waitFor returns the first event with the verdict allowed that match
// says is the one; flows report when they end, a moment after the guest
// saw the end.
func (l *netEvents) waitFor(t *testing.T, allowed bool, what string, match func(event.NetFlow) bool) event.NetFlow {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		for i, e := range l.ev {
			if l.ok[i] == allowed && match(e) {
				l.mu.Unlock()
				return e
			}
		}
		all := fmt.Sprint(l.ev)
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s event (allowed=%v); events: %s", what, allowed, all)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testCA is a CA made for one test run and a server certificate from it.
type testCA struct {
	pem  []byte
	cert tls.Certificate
}

func newTestCA(t *testing.T, names ...string) *testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "voidbox network test CA"},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key},
	}
}

// servers are the local stand-ins, each on its own 127.0.0.1 port.
type servers struct {
	http, https, big, hostOK, hostNo string // ports
	udp                              string
}

func startServers(t *testing.T, ca *testCA) servers {
	t.Helper()
	var s servers
	port := func(addr net.Addr) string { _, p, _ := net.SplitHostPort(addr.String()); return p }
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain page for %s\n", r.Host)
	}))
	t.Cleanup(plain.Close)
	s.http = port(plain.Listener.Addr())
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "secure page for %s\n", r.TLS.ServerName)
	}))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{ca.cert}}
	secure.StartTLS()
	t.Cleanup(secure.Close)
	s.https = port(secure.Listener.Addr())
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20))
	}))
	t.Cleanup(big.Close)
	s.big = port(big.Listener.Addr())
	for _, p := range []*string{&s.hostOK, &s.hostNo} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "host service")
		}))
		t.Cleanup(srv.Close)
		*p = port(srv.Listener.Addr())
	}
	uc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	go func() { // ends when the cleanup closes uc
		buf := make([]byte, 1500)
		for {
			n, from, err := uc.ReadFrom(buf)
			if err != nil {
				return
			}
			uc.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	s.udp = port(uc.LocalAddr())
	return s
}

// table resolves names on the "host" for the tests, never through DNS.
type table map[string][]netip.Addr

func (tb table) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := tb[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func mustNet(t *testing.T, raw any) netpolicy.Policy {
	t.Helper()
	p, err := netpolicy.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return *p
}

var (
	nettryOnce sync.Once
	nettryBin  string
	nettryErr  error
)

// nettry builds the guest-side test client (testdata/nettry), static.
func nettry(t *testing.T) []byte {
	t.Helper()
	nettryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nettry-")
		if err != nil {
			nettryErr = err
			return
		}
		nettryBin = filepath.Join(dir, "nettry")
		cmd := exec.Command("go", "build", "-o", nettryBin, "./testdata/nettry")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			nettryErr = fmt.Errorf("building nettry: %v: %s", err, out)
		}
	})
	if nettryErr != nil {
		t.Fatal(nettryErr)
	}
	b, err := os.ReadFile(nettryBin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// netBox is a booted sandbox with a network and the tests' client in it.
type netBox struct {
	sb     *sandbox.Sandbox
	events *netEvents
}

func bootNet(t *testing.T, name string, p policy.Sandbox, resolver table) *netBox {
	t.Helper()
	r := vmtest.Setup(t)
	cfg := vmtest.Host(t).Config(name, p, r.Kernel, r.Initramfs)
	events := &netEvents{}
	cfg.OnEvent = events.add
	if resolver != nil {
		cfg.Resolver = resolver
	}
	sb, err := sandbox.Boot(context.Background(), cfg)
	if err != nil {
		t.Fatalf("booting %s: %v", name, err)
	}
	t.Cleanup(func() { sb.Close() })
	b := &netBox{sb: sb, events: events}
	if p.HasNetwork() {
		if err := sb.WriteFile(context.Background(), "/workspace/nettry", nettry(t), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// run runs argv in the box and returns its exit code and output.
func (b *netBox) run(t *testing.T, argv ...string) (int, string) {
	t.Helper()
	return b.runAs(t, sandbox.AsUser, argv...)
}

func (b *netBox) runAs(t *testing.T, as sandbox.Identity, argv ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.sb.Exec(ctx, sandbox.Cmd{Args: argv, As: as})
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return res.ExitCode, string(res.Stdout) + string(res.Stderr)
}

// ok runs argv and fails the test unless it exits 0; it returns stdout+stderr.
func (b *netBox) ok(t *testing.T, argv ...string) string {
	t.Helper()
	code, out := b.run(t, argv...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", argv, code, out)
	}
	return out
}

// refused runs argv, which must fail, and fast: the guest must learn of a
// denial at once (a RST, an ICMP error, NXDOMAIN), never by a timeout.
// nettry reports the time it took; busybox tools are timed from the host,
// with the exec round trip in it.
func (b *netBox) refused(t *testing.T, argv ...string) string {
	t.Helper()
	start := time.Now()
	code, out := b.run(t, argv...)
	took := time.Since(start)
	if code == 0 {
		t.Fatalf("%v succeeded: %s", argv, out)
	}
	// Guest timeouts are 2 s (resolv.conf) and more; a refusal is far
	// below that even on a loaded TCG guest.
	if took > 3*time.Second {
		t.Fatalf("%v took %v to fail (a hang until timeout, not a refusal): %s", argv, took, out)
	}
	return out
}
