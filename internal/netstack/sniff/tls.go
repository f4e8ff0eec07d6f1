package sniff

import (
	"errors"
	"fmt"
)

// TLS constants (RFC 8446 §5.1, §4; RFC 6066 §3; draft-ietf-tls-esni).
const (
	recordTypeHandshake  = 22
	handshakeClientHello = 1
	extServerName        = 0
	extECH               = 0xfe0d
	nameTypeHostName     = 0
	maxRecordPlaintext   = 1<<14 + 256 // a little slack, as TLS stacks allow
	recordHeaderLen      = 5
	handshakeHeaderLen   = 4
)

// ServerName returns the SNI host name of the TLS ClientHello at the start
// of b, which may be split over several handshake records. It returns
// ErrMore while the ClientHello is incomplete, "" when it has no SNI, and an
// error for anything a careful server would also refuse: a record that is
// not a handshake, a first message that is not a ClientHello, a length that
// overruns, a duplicate extension, or more than one host name.
func ServerName(b []byte) (name string, ech bool, err error) {
	hs, err := handshakeBytes(b)
	if err != nil {
		return "", false, err
	}
	return parseClientHello(hs)
}

// handshakeBytes gathers the first handshake message from the records in b.
func handshakeBytes(b []byte) ([]byte, error) {
	var hs []byte
	need := -1 // total handshake bytes wanted, once the header is in
	for {
		if len(b) < recordHeaderLen {
			return nil, ErrMore
		}
		if b[0] != recordTypeHandshake {
			return nil, fmt.Errorf("tls: record type %d before the ClientHello ended", b[0])
		}
		if b[1] != 3 {
			return nil, fmt.Errorf("tls: record version %d.%d", b[1], b[2])
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > maxRecordPlaintext {
			return nil, fmt.Errorf("tls: record length %d", n)
		}
		if len(b) < recordHeaderLen+n {
			if recordHeaderLen+n+len(hs) > MaxPrefix {
				return nil, errors.New("tls: ClientHello too large")
			}
			return nil, ErrMore
		}
		hs = append(hs, b[recordHeaderLen:recordHeaderLen+n]...)
		b = b[recordHeaderLen+n:]
		if need < 0 && len(hs) >= handshakeHeaderLen {
			if hs[0] != handshakeClientHello {
				return nil, fmt.Errorf("tls: first handshake message is type %d, not ClientHello", hs[0])
			}
			need = handshakeHeaderLen + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
			if need > MaxPrefix {
				return nil, errors.New("tls: ClientHello too large")
			}
		}
		if need >= 0 && len(hs) >= need {
			return hs[handshakeHeaderLen:need], nil
		}
	}
}

// reader is a bounds-checked cursor over a byte slice; any overrun sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() int {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16() int {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return int(b[0])<<8 | int(b[1])
}

// vec reads a vector with an n-byte length prefix (n is 1 or 2).
func (r *reader) vec(n int) *reader {
	var l int
	if n == 1 {
		l = r.u8()
	} else {
		l = r.u16()
	}
	b := r.bytes(l)
	return &reader{b: b, bad: r.bad}
}

var errMalformed = errors.New("tls: malformed ClientHello")

func parseClientHello(body []byte) (string, bool, error) {
	r := &reader{b: body}
	r.bytes(2)  // legacy_version
	r.bytes(32) // random
	if sid := r.vec(1); len(sid.b) > 32 {
		return "", false, errMalformed
	}
	suites := r.vec(2)
	if len(suites.b) == 0 || len(suites.b)%2 != 0 {
		return "", false, errMalformed
	}
	if comp := r.vec(1); len(comp.b) == 0 {
		return "", false, errMalformed
	}
	if r.bad {
		return "", false, errMalformed
	}
	if len(r.b) == 0 {
		return "", false, nil // no extensions (TLS 1.2 and older may omit them)
	}
	exts := r.vec(2)
	if r.bad || len(r.b) != 0 {
		return "", false, errMalformed
	}
	seen := map[int]bool{}
	var name string
	var ech bool
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(2)
		if exts.bad {
			return "", false, errMalformed
		}
		if seen[typ] {
			return "", false, fmt.Errorf("tls: extension %d twice", typ)
		}
		seen[typ] = true
		switch typ {
		case extECH:
			ech = true
		case extServerName:
			n, err := parseServerNameExt(data)
			if err != nil {
				return "", false, err
			}
			name = n
		}
	}
	return name, ech, nil
}

func parseServerNameExt(data *reader) (string, error) {
	list := data.vec(2)
	if data.bad || len(data.b) != 0 || len(list.b) == 0 {
		return "", errMalformed
	}
	var name string
	for len(list.b) > 0 {
		typ := list.u8()
		host := list.vec(2)
		if list.bad || len(host.b) == 0 {
			return "", errMalformed
		}
		if typ != nameTypeHostName {
			continue
		}
		if name != "" {
			return "", errors.New("tls: more than one host name")
		}
		for _, c := range host.b {
			if c <= ' ' || c >= 0x7f {
				return "", errors.New("tls: host name is not printable ASCII")
			}
		}
		if host.b[len(host.b)-1] == '.' {
			return "", errors.New("tls: host name with a trailing dot")
		}
		name = string(host.b)
	}
	return name, nil
}
