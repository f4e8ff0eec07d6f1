package netpolicy

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Forward is a port forward from the host into the box: connections to
// Host are carried to GuestPort inside the guest. It is the host's own
// doing, so no allow rule is needed, but the box must have a network.
type Forward struct {
	// Host is where the host listens; its address defaults to 127.0.0.1
	// (never every interface unless written), port 0 picks a free port.
	Host netip.AddrPort
	// GuestPort is the TCP port in the guest, 1-65535.
	GuestPort uint16
}

// LoopbackV4 is where forwards listen unless they name an address.
var LoopbackV4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// ParseForward parses a port forward as `docker -p` writes it:
//
//	8080:80            127.0.0.1:8080 → guest port 80
//	0:80               a free host port → guest port 80
//	0.0.0.0:8080:80    every IPv4 interface (only when written)
//	[::1]:8080:80      an IPv6 address
//	8080:80/tcp        the protocol, TCP only
func ParseForward(s string) (Forward, error) {
	if strings.TrimSpace(s) != s || s == "" {
		return Forward{}, errors.New("want HOST_PORT:GUEST_PORT or ADDRESS:HOST_PORT:GUEST_PORT")
	}
	if rest, proto, ok := strings.Cut(s, "/"); ok {
		if proto != "tcp" {
			return Forward{}, errors.New("only tcp port forwards are supported")
		}
		s = rest
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Forward{}, errors.New("want HOST_PORT:GUEST_PORT (a guest port alone does not say where the host listens)")
	}
	hostPart, guestPart := s[:i], s[i+1:]
	guest, err := parsePort(guestPart)
	if err != nil {
		return Forward{}, errors.New("guest port: " + err.Error())
	}
	addr := LoopbackV4
	portPart := hostPart
	if j := strings.LastIndexByte(hostPart, ':'); j >= 0 {
		a := strings.TrimSuffix(strings.TrimPrefix(hostPart[:j], "["), "]")
		if addr, err = netip.ParseAddr(a); err != nil || addr.Zone() != "" {
			return Forward{}, errors.New("host address " + strconv.Quote(hostPart[:j]) + " is not an IP address")
		}
		addr, portPart = addr.Unmap(), hostPart[j+1:]
	}
	var host uint16
	if portPart != "0" {
		if host, err = parsePort(portPart); err != nil {
			return Forward{}, errors.New("host port: " + err.Error())
		}
	}
	return Forward{Host: netip.AddrPortFrom(addr, host), GuestPort: guest}, nil
}

// String renders f the way ParseForward reads it.
func (f Forward) String() string {
	return f.Host.String() + ":" + strconv.Itoa(int(f.GuestPort))
}

// Check reports what is wrong with a forward built by hand.
func (f Forward) Check() error {
	if !f.Host.Addr().IsValid() || f.Host.Addr().Zone() != "" {
		return errors.New("host address is not set (use LoopbackV4)")
	}
	if f.GuestPort == 0 {
		return errors.New("guest port must be 1-65535")
	}
	return nil
}
