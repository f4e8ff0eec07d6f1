package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// TestNetworkVM: one VM with an allowlist runs every case of the policy
// that can share it; the order matters only for the first (no name has
// been looked up yet).
func TestNetworkVM(t *testing.T) {
	ca := newTestCA(t, "example.test")
	srv := startServers(t, ca)
	p := policy.Sandbox{
		Network: mustNet(t, map[string]any{
			"allow":      []any{"example.test", "udp.test", "rebind.test", "loop.test"},
			"hosts":      map[string]any{"example.test": "127.0.0.1", "udp.test": "127.0.0.1"},
			"host_ports": []any{srv.hostOK},
		}),
		Ports:   []netpolicy.Forward{{Host: netip.AddrPortFrom(netpolicy.LoopbackV4, 0), GuestPort: 8080}},
		CACerts: ca.pem,
	}
	// What a resolver on the host would answer: a public name rebinding
	// into private space, one pointing at host loopback.
	resolver := table{
		"rebind.test": {netip.MustParseAddr("10.0.0.5")},
		"loop.test":   {netip.MustParseAddr("127.0.0.1")},
	}
	b := bootNet(t, "net", p, resolver)
	const nettry = "/workspace/nettry"

	t.Run("ip_literal_without_lookup_denied", func(t *testing.T) {
		// 198.18.0.1 is the address the guest will be told for
		// example.test, but nothing has asked for the name yet.
		out := b.refused(t, nettry, "dial", "198.18.0.1:"+srv.http)
		if !strings.Contains(out, "connection refused") {
			t.Errorf("want a RST: %s", out)
		}
		b.events.waitFor(t, false, "literal", func(e event.NetFlow) bool {
			return e.Proto == "tcp" && e.IP == "198.18.0.1" && strings.Contains(e.Reason, "no rule allows it")
		})
	})

	t.Run("allowed_name_http", func(t *testing.T) {
		out := b.ok(t, "wget", "-qO-", "http://example.test:"+srv.http+"/")
		if out != "plain page for example.test:"+srv.http+"\n" {
			t.Errorf("got %q", out)
		}
		e := b.events.waitFor(t, true, "http flow", func(e event.NetFlow) bool {
			return e.Proto == "tcp" && e.Port == atoi(srv.http)
		})
		if e.Name != "example.test" || e.IP != "127.0.0.1" || e.BytesIn == 0 || e.BytesOut == 0 || e.Box != "net" {
			t.Errorf("event %+v", e)
		}
		b.events.waitFor(t, true, "dns", func(e event.NetFlow) bool { return e.Proto == "dns" && e.Name == "example.test" })
		// Now the literal is pinned to an allowed name.
		b.ok(t, nettry, "dial", "198.18.0.1:"+srv.http)
	})

	t.Run("allowed_name_https", func(t *testing.T) {
		// busybox wget speaks TLS (without checking the certificate)...
		out := b.ok(t, "wget", "-qO-", "https://example.test:"+srv.https+"/")
		if !strings.Contains(out, "secure page for example.test") {
			t.Errorf("wget: %q", out)
		}
		// ...Go's client checks it against /etc/ssl/certs, which holds
		// Debian's bundle and the policy's CA.
		out = b.ok(t, nettry, "get", "https://example.test:"+srv.https+"/")
		if out != "secure page for example.test\n" {
			t.Errorf("nettry: %q", out)
		}
		bundle := b.ok(t, "cat", "/etc/ssl/certs/ca-certificates.crt")
		if n := strings.Count(bundle, "BEGIN CERTIFICATE"); n < 100 || !strings.Contains(bundle, strings.TrimSpace(string(ca.pem))) {
			t.Errorf("bundle has %d certificates, policy CA included: %v", n, strings.Contains(bundle, string(ca.pem)))
		}
	})

	t.Run("other_name_nxdomain", func(t *testing.T) {
		out := b.refused(t, "nslookup", "other.test")
		if !strings.Contains(out, "NXDOMAIN") {
			t.Errorf("nslookup: %s", out)
		}
		out = b.refused(t, "wget", "-qO-", "http://other.test:"+srv.http+"/")
		if !strings.Contains(out, "bad address") {
			t.Errorf("wget: %s", out)
		}
		b.events.waitFor(t, false, "dns denial", func(e event.NetFlow) bool {
			return e.Proto == "dns" && e.Name == "other.test" && strings.Contains(e.Reason, "not in the allowlist")
		})
	})

	t.Run("wrong_sni_cut", func(t *testing.T) {
		b.refused(t, nettry, "get", "-sni", "evil.test", "https://example.test:"+srv.https+"/")
		e := b.events.waitFor(t, false, "sni cut", func(e event.NetFlow) bool {
			return e.Proto == "tcp" && strings.Contains(e.Reason, "TLS SNI evil.test")
		})
		if e.Name != "evil.test" || !strings.HasPrefix(e.Reason, "cut: ") {
			t.Errorf("event %+v", e)
		}
	})

	t.Run("wrong_host_cut", func(t *testing.T) {
		b.refused(t, "wget", "-qO-", "--header", "Host: evil.test", "http://example.test:"+srv.http+"/")
		b.events.waitFor(t, false, "host cut", func(e event.NetFlow) bool {
			return e.Name == "evil.test" && strings.Contains(e.Reason, "HTTP Host evil.test")
		})
	})

	t.Run("dns_answer_private_or_loopback_denied", func(t *testing.T) {
		for name, why := range map[string]string{"rebind.test": "10.0.0.5, which is private", "loop.test": "127.0.0.1, which is loopback"} {
			out := b.refused(t, "nslookup", name)
			if !strings.Contains(out, "NXDOMAIN") {
				t.Errorf("nslookup %s: %s", name, out)
			}
			b.events.waitFor(t, false, name, func(e event.NetFlow) bool {
				return e.Proto == "dns" && e.Name == name && strings.Contains(e.Reason, why)
			})
		}
	})

	t.Run("host_ports", func(t *testing.T) {
		if out := b.ok(t, "wget", "-qO-", "http://10.0.2.2:"+srv.hostOK+"/"); out != "host service\n" {
			t.Errorf("declared host port: %q", out)
		}
		b.refused(t, nettry, "dial", "10.0.2.2:"+srv.hostNo)
		b.events.waitFor(t, false, "host port", func(e event.NetFlow) bool {
			return e.IP == "127.0.0.1" && e.Port == atoi(srv.hostNo) && strings.Contains(e.Reason, "is not in host_ports")
		})
	})

	t.Run("udp", func(t *testing.T) {
		if out := b.ok(t, nettry, "udp", "udp.test:"+srv.udp, "hi"); out != "echo hi\n" {
			t.Errorf("allowed udp: %q", out)
		}
		out := b.refused(t, nettry, "udp", "198.18.0.77:9999", "hi")
		if !strings.Contains(out, "connection refused") {
			t.Errorf("want ICMP port unreachable: %s", out)
		}
		b.events.waitFor(t, false, "udp", func(e event.NetFlow) bool { return e.Proto == "udp" && e.IP == "198.18.0.77" })
	})

	t.Run("ping", func(t *testing.T) {
		// Only the gateway answers; anything else is "administratively
		// prohibited" at once, from the gateway.
		code, out := b.runAs(t, sandbox.AsRoot, nettry, "ping", "10.0.2.2")
		if code != 0 || !strings.Contains(out, "echo reply from 10.0.2.2") {
			t.Errorf("ping the gateway: exit %d: %s", code, out)
		}
		start := time.Now()
		code, out = b.runAs(t, sandbox.AsRoot, nettry, "ping", "198.18.0.99")
		if code != 0 || !strings.Contains(out, "destination unreachable from 10.0.2.2 code 13") || time.Since(start) > 3*time.Second {
			t.Errorf("ping elsewhere: exit %d after %v: %s", code, time.Since(start), out)
		}
		b.events.waitFor(t, false, "icmp", func(e event.NetFlow) bool { return e.Proto == "icmp" && e.IP == "198.18.0.99" })
	})

	t.Run("no_ipv6", func(t *testing.T) {
		if out := b.ok(t, "cat", "/proc/net/if_inet6"); strings.Contains(out, "eth0") {
			t.Errorf("eth0 has IPv6 addresses:\n%s", out)
		}
		if out := b.ok(t, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6"); out != "1\n" {
			t.Errorf("disable_ipv6 = %q", out)
		}
	})

	t.Run("port_forward", func(t *testing.T) {
		fw := b.sb.Info().Forwards
		if len(fw) != 1 || fw[0].GuestPort != 8080 || fw[0].Host.Addr() != netpolicy.LoopbackV4 || fw[0].Host.Port() == 0 {
			t.Fatalf("forwards %+v", fw)
		}
		b.ok(t, "sh", "-c", "mkdir -p /workspace/www && echo served from the box > /workspace/www/index.html && httpd -p 8080 -h /workspace/www")
		resp, err := http.Get(fmt.Sprintf("http://%s/index.html", fw[0].Host))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "served from the box\n" {
			t.Errorf("through the forward: %q", body)
		}
		b.events.waitFor(t, true, "forward", func(e event.NetFlow) bool { return e.Proto == "forward" && e.Port == 8080 && e.BytesIn > 0 })
	})

	t.Run("closed_with_the_vm", func(t *testing.T) {
		dir := b.sb.Info().RuntimeDir
		b.sb.Close()
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("runtime dir left behind: %v", err)
		}
		fw := b.sb.Info().Forwards[0].Host.String()
		if c, err := net.DialTimeout("tcp", fw, time.Second); err == nil {
			c.Close()
			t.Errorf("the port forward %s still listens", fw)
		}
		buf := make([]byte, 1<<20)
		if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "internal/netstack.") {
			t.Errorf("network goroutines outlive the VM:\n%s", stacks)
		}
	})

	t.Run("stats_match_events", func(t *testing.T) {
		b.sb.Close() // flows end with the VM: the counters are final
		st := b.sb.NetStats()
		b.events.mu.Lock()
		defer b.events.mu.Unlock()
		var allowed, denied, in, out int64
		for i, e := range b.events.ev {
			if e.Proto == "dns" {
				continue
			}
			if b.events.ok[i] {
				allowed++
			} else {
				denied++
			}
			in, out = in+e.BytesIn, out+e.BytesOut
		}
		if st.FlowsAllowed != allowed || st.FlowsDenied != denied || st.BytesIn != in || st.BytesOut != out {
			t.Errorf("stats %+v; events say %d allowed, %d denied, %d in, %d out", st, allowed, denied, in, out)
		}
	})
}

// TestNetworkLimitsVM: limits deny new flows with their reason, never
// stall; without the policy's CA, the test server's certificate is not
// trusted (the bundle is Debian's only).
func TestNetworkLimitsVM(t *testing.T) {
	ca := newTestCA(t, "example.test")
	srv := startServers(t, ca)
	b := bootNet(t, "netlimits", policy.Sandbox{Network: mustNet(t, map[string]any{
		"allow":  []any{"example.test"},
		"hosts":  map[string]any{"example.test": "127.0.0.1"},
		"limits": map[string]any{"max_flows": 1, "max_bytes": 256 << 10},
	})}, nil)
	const nettry = "/workspace/nettry"

	out := b.refused(t, nettry, "get", "https://example.test:"+srv.https+"/")
	if !strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("untrusted CA: %s", out)
	}

	// One flow open: the second is refused, with the reason.
	code, out := b.run(t, "sh", "-c", nettry+" hold example.test:"+srv.http+" 5 & sleep 1; "+nettry+" dial example.test:"+srv.http+"; status=$?; wait; exit $status")
	if code == 0 || !strings.Contains(out, "connection refused") {
		t.Errorf("second flow: exit %d: %s", code, out)
	}
	b.events.waitFor(t, false, "flow limit", func(e event.NetFlow) bool { return strings.Contains(e.Reason, "flow limit reached (1 open)") })

	// The byte budget cuts the flow that spends it, then refuses new ones.
	b.refused(t, "wget", "-qO", "/dev/null", "http://example.test:"+srv.big+"/")
	b.events.waitFor(t, false, "byte cut", func(e event.NetFlow) bool { return e.Reason == "cut: byte limit reached" && e.BytesIn > 0 })
	b.refused(t, nettry, "dial", "example.test:"+srv.http)
	b.events.waitFor(t, false, "budget spent", func(e event.NetFlow) bool {
		return strings.Contains(e.Reason, "byte limit reached (262144 bytes)")
	})
}

// TestNoNetworkVM: without a network the VM has no network device at all,
// only loopback, and no resolver.
func TestNoNetworkVM(t *testing.T) {
	b := bootNet(t, "nonet", policy.Sandbox{}, nil)
	if out := b.ok(t, "ls", "/sys/class/net"); out != "lo\n" {
		t.Errorf("interfaces: %q", out)
	}
	if code, out := b.run(t, "cat", "/etc/resolv.conf"); code == 0 {
		t.Errorf("resolv.conf exists: %q", out)
	}
	if code, _ := b.run(t, "grep", "-q", "virtio_net", "/proc/modules"); code == 0 {
		t.Error("virtio_net is loaded in a VM without network")
	}
	if _, err := b.sb.ReadFile(context.Background(), "/proc/cmdline"); err != nil {
		t.Fatal(err)
	}
	if st := b.sb.NetStats(); st != (sandbox.NetStats{}) {
		t.Errorf("stats %+v", st)
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
