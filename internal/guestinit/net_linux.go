package guestinit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// netModules drive the VM's network device (virtio_net needs net_failover
// and failover in Debian's kernel; the manifest lists the dependencies).
var netModules = []string{"virtio_net"}

// ResolvConf is where the guest's resolver is configured.
const ResolvConf = "/etc/resolv.conf"

// hasNIC reports whether the host put wire.NetCmdline on the command line.
func hasNIC() bool {
	b, _ := os.ReadFile("/proc/cmdline")
	for _, w := range strings.Fields(string(b)) {
		if w == wire.NetCmdline {
			return true
		}
	}
	return false
}

// configureNetwork applies the host's configuration to the one interface
// with n.MAC: IPv6 off on it first (the host stack speaks IPv4 only; no
// address, no router solicitation ever leaves), then MTU, address, up, the
// default route and the resolver. There is no DHCP: the host said it all.
func configureNetwork(n *wire.Network) error {
	addr, err := netip.ParsePrefix(n.Address)
	if err != nil || !addr.Addr().Is4() {
		return fmt.Errorf("network: address %q is not an IPv4 CIDR", n.Address)
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil || !gw.Is4() {
		return fmt.Errorf("network: gateway %q is not an IPv4 address", n.Gateway)
	}
	mac, err := net.ParseMAC(n.MAC)
	if err != nil {
		return fmt.Errorf("network: mac %q: %w", n.MAC, err)
	}
	if err := ensureModules(ModulesFile, netModules...); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	ifname, err := waitInterface(mac, 5*time.Second)
	if err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+ifname+"/disable_ipv6", []byte("1"), 0); err != nil {
		return fmt.Errorf("network: turning IPv6 off on %s: %w", ifname, err)
	}
	if err := ifconfig(ifname, addr, n.MTU); err != nil {
		return fmt.Errorf("network: configuring %s: %w", ifname, err)
	}
	if err := addDefaultRoute(ifname, gw); err != nil {
		return fmt.Errorf("network: default route via %s: %w", gw, err)
	}
	return nil
}

// writeResolvConf points the view's resolver at dns (the gateway). It runs
// in the view (chrooted into an image root), and replaces whatever the
// image had there, a symlink included, rather than writing through it.
func writeResolvConf(dns string) error {
	addr, err := netip.ParseAddr(dns)
	if err != nil {
		return fmt.Errorf("network: dns %q is not an IP address", dns)
	}
	conf := "# written by voidbox: the host answers DNS through the box's policy\nnameserver " + addr.String() + "\noptions timeout:2 attempts:2\n"
	if err := os.MkdirAll(filepath.Dir(ResolvConf), 0o755); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := os.Remove(ResolvConf); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: %w", err)
	}
	if err := os.WriteFile(ResolvConf, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	return nil
}

// waitInterface finds the interface with mac; the driver's probe may
// finish a moment after its module loaded.
func waitInterface(mac net.HardwareAddr, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		dirs, _ := filepath.Glob("/sys/class/net/*/address")
		for _, d := range dirs {
			b, err := os.ReadFile(d)
			if err == nil && strings.TrimSpace(string(b)) == mac.String() {
				return filepath.Base(filepath.Dir(d)), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("network: no interface with MAC %s after %v", mac, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ifconfig sets the MTU, the IPv4 address and netmask, and brings the
// interface up.
func ifconfig(name string, addr netip.Prefix, mtu int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if mtu > 0 {
		ifr.SetUint32(uint32(mtu))
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("mtu %d: %w", mtu, err)
		}
	}
	a := addr.Addr().As4()
	if err := ifr.SetInet4Addr(a[:]); err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
		return fmt.Errorf("address %s: %w", addr, err)
	}
	mask := net.CIDRMask(addr.Bits(), 32)
	if err := ifr.SetInet4Addr(mask); err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, ifr); err != nil {
		return fmt.Errorf("netmask /%d: %w", addr.Bits(), err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// addDefaultRoute adds 0.0.0.0/0 via gw on the interface with one
// rtnetlink request (there is no ioctl for it without raw structs).
func addDefaultRoute(ifname string, gw netip.Addr) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	g := gw.As4()
	msg := routeRequest(1, g, uint32(ifi.Index))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	return netlinkAck(buf[:n], 1)
}

// routeRequest is an RTM_NEWROUTE message (rtnetlink(7)) for a default
// IPv4 route via gw out of interface oif, asking for an acknowledgement.
func routeRequest(seq uint32, gw [4]byte, oif uint32) []byte {
	var b bytes.Buffer
	attr := func(typ uint16, v []byte) {
		binary.Write(&b, binary.NativeEndian, unix.RtAttr{Len: uint16(unix.SizeofRtAttr + len(v)), Type: typ})
		b.Write(v)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	binary.Write(&b, binary.NativeEndian, unix.NlMsghdr{}) // length filled below
	binary.Write(&b, binary.NativeEndian, unix.RtMsg{
		Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST,
	})
	attr(unix.RTA_GATEWAY, gw[:])
	attr(unix.RTA_OIF, binary.NativeEndian.AppendUint32(nil, oif))
	out := b.Bytes()
	binary.NativeEndian.PutUint32(out[0:4], uint32(len(out)))
	binary.NativeEndian.PutUint16(out[4:6], unix.RTM_NEWROUTE)
	binary.NativeEndian.PutUint16(out[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(out[8:12], seq)
	return out
}

// netlinkAck reads the NLMSG_ERROR answer to request seq: error 0 is the
// acknowledgement.
func netlinkAck(b []byte, seq uint32) error {
	if len(b) < unix.SizeofNlMsghdr+4 {
		return errors.New("short netlink answer")
	}
	typ := binary.NativeEndian.Uint16(b[4:6])
	if typ != unix.NLMSG_ERROR || binary.NativeEndian.Uint32(b[8:12]) != seq {
		return fmt.Errorf("unexpected netlink answer (type %d)", typ)
	}
	if errno := int32(binary.NativeEndian.Uint32(b[unix.SizeofNlMsghdr:])); errno != 0 {
		return unix.Errno(-errno)
	}
	return nil
}

// CABundle is where Debian's TLS clients (and Go's) find trusted CAs.
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

// addCACerts appends the host's extra CAs (PEM, checked by the host) to
// the bundle, creating it when the image has none. It runs in the view; a
// bundle that is a symlink (some images link it elsewhere) is appended to
// where it points inside the view.
func addCACerts(pem string) error {
	if pem == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(CABundle), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(CABundle, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("\n# added by the voidbox policy (ca_certificates)\n" + strings.TrimSpace(pem) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
