package netstack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// testGuest is a second gVisor stack playing the VM: it applies Guest()
// the way the guest agent will, and reaches the host stack over a unix
// socket with QEMU's stream framing, as virtio-net + QEMU would.
type testGuest struct {
	s    *stack.Stack
	link *link
	g    Guest
	wg   sync.WaitGroup
	stop context.CancelFunc
}

// rig is one host stack and its guest.
type rig struct {
	host   *Stack
	guest  *testGuest
	events *eventLog
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.ev...)
}

// waitFor waits (bounded) for an event matching ok; events of closing
// flows arrive after the guest sees the close.
func (l *eventLog) waitFor(t *testing.T, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range l.all() {
			if ok(e) {
				return e
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s event; got:\n%v", what, l.all())
	return Event{}
}

func mustPolicy(t testing.TB, raw any) *netpolicy.Policy {
	t.Helper()
	p, err := netpolicy.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newRig starts a host stack under cfg and a guest wired to it. Both are
// closed at the end of the test.
func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	events := &eventLog{}
	if cfg.OnEvent == nil {
		cfg.OnEvent = events.add
	}
	sock := filepath.Join(t.TempDir(), "net.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// As with QEMU: the host listens, the VM side connects.
	guestConn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hostConn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	host, err := New(hostConn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	g := startGuest(t, guestConn, host.Guest())
	t.Cleanup(g.close)
	return &rig{host: host, guest: g, events: events}
}

func startGuest(t testing.TB, conn net.Conn, cfg Guest) *testGuest {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := tuneTCP(s); err != nil {
		t.Fatal(err)
	}
	l := newLink(conn, cfg.MTU, cfg.MAC)
	if err := s.CreateNIC(1, l.ep); err != nil {
		t.Fatal(err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr(cfg.Addr.Addr()), PrefixLen: cfg.Addr.Bits()},
	}, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	subnet, _ := tcpip.NewSubnet(tcpAddr(cfg.Addr.Masked().Addr()), tcpip.MaskFromBytes(net.CIDRMask(cfg.Addr.Bits(), 32)))
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet, NIC: 1},
		{Destination: header.IPv4EmptySubnet, Gateway: tcpAddr(cfg.Gateway), NIC: 1},
	})
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGuest{s: s, link: l, g: cfg, stop: cancel}
	g.wg.Add(2)
	go func() { defer g.wg.Done(); l.readLoop() }()
	go func() { defer g.wg.Done(); l.writeLoop(ctx) }()
	return g
}

func (g *testGuest) close() {
	g.stop()
	g.link.conn.Close()
	g.s.Close()
	g.link.ch.Close()
	g.wg.Wait()
	g.s.Wait()
	g.s.Destroy()
}

// resolver resolves through the host stack's DNS server, over real UDP
// (or TCP) inside the guest stack.
func (g *testGuest) resolver(network string) *net.Resolver {
	dnsAddr := tcpip.FullAddress{NIC: 1, Addr: tcpAddr(g.g.DNS), Port: 53}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if network == "tcp" {
			return gonet.DialContextTCP(ctx, g.s, dnsAddr, ipv4.ProtocolNumber)
		}
		return gonet.DialUDP(g.s, nil, &dnsAddr, ipv4.ProtocolNumber)
	}}
}

func (g *testGuest) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	return g.resolver("udp").LookupNetIP(ctx, "ip4", name)
}

// dial connects from the guest to host:port, resolving host through the
// box's DNS unless it is an address.
func (g *testGuest) dial(ctx context.Context, hostport string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	addr, err := netip.ParseAddr(host)
	if err != nil {
		addrs, err := g.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		addr = addrs[0]
	}
	return gonet.DialContextTCP(ctx, g.s, tcpip.FullAddress{NIC: 1, Addr: tcpAddr(addr), Port: uint16(port)}, ipv4.ProtocolNumber)
}

func (g *testGuest) httpClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return g.dial(ctx, addr) },
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DisableKeepAlives: true,
	}}
}

// testCA is a CA made for one test run, and a server certificate from it
// for every name the tests use.
type testCA struct {
	pool *x509.CertPool
	cert tls.Certificate
}

func newTestCA(t testing.TB, names ...string) *testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "voidbox test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
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
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testCA{pool: pool, cert: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}}
}

// servers are the stand-ins for the internet, all on 127.0.0.1.
func startHTTP(t testing.TB, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body + " " + r.Host))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func startHTTPS(t testing.TB, ca *testCA, body string) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body + " " + r.TLS.ServerName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func port(t testing.TB, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// refusedFast asserts that err is a refusal, not a timeout. The 1 s
// context is only a hang guard (a RST arrives in microseconds), not a
// speed claim.
func refusedFast(t *testing.T, what string, err error, start time.Time) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("%s: hung until %v (%v)", what, time.Since(start), err)
	}
}

func hangGuard() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Second)
}

// table is a Resolver over a fixed map; names not in it are not found.
type table map[string][]netip.Addr

func (tb table) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := tb[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func gonetListen(g *testGuest, port uint16) (net.Listener, error) {
	return gonet.ListenTCP(g.s, tcpip.FullAddress{NIC: 1, Addr: tcpAddr(g.g.Addr.Addr()), Port: port}, ipv4.ProtocolNumber)
}
