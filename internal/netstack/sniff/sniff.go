// Package sniff reads the first bytes a guest sends on a TCP flow and says
// which name it is speaking to: the SNI of a TLS ClientHello or the Host of
// an HTTP/1 request. The bytes come from an untrusted guest: every length is
// checked before use, nothing is allocated past MaxPrefix, and a malformed
// TLS or HTTP start is an error (the flow is cut), never a guess. Stdlib only.
package sniff

import (
	"errors"
)

// Kind is what a flow's first bytes look like.
type Kind int

const (
	// Opaque: neither TLS nor HTTP/1; the flow carries no name to check.
	Opaque Kind = iota
	TLS
	HTTP
)

func (k Kind) String() string {
	switch k {
	case TLS:
		return "tls"
	case HTTP:
		return "http"
	}
	return "opaque"
}

// MaxPrefix is the most bytes Sniff ever needs: a ClientHello (records
// included) or HTTP request head larger than this is refused.
const MaxPrefix = 32 << 10

// ErrMore means the prefix is a valid start but too short to decide: read
// more bytes and call again.
var ErrMore = errors.New("need more bytes")

// Result is what the first bytes of a flow say.
type Result struct {
	Kind Kind
	// Name is the server name (SNI or Host without port), lower-cased as
	// sent; empty when the client sent none.
	Name string
	// ECH reports a TLS ClientHello carrying encrypted_client_hello: Name is
	// then only the outer, public name.
	ECH bool
}

// Sniff classifies prefix, the bytes the client sent so far. It returns
// ErrMore while prefix could still become a TLS ClientHello or an HTTP
// request head, and another error when it is a malformed one. A prefix that
// cannot be the start of either is Opaque at once, so a client-first binary
// protocol is never held waiting.
func Sniff(prefix []byte) (Result, error) {
	if len(prefix) == 0 {
		return Result{}, ErrMore
	}
	if prefix[0] == recordTypeHandshake {
		name, ech, err := ServerName(prefix)
		if err != nil {
			return Result{Kind: TLS}, err
		}
		return Result{Kind: TLS, Name: name, ECH: ech}, nil
	}
	switch looksHTTP(prefix) {
	case yes:
		name, err := Host(prefix)
		return Result{Kind: HTTP, Name: name}, err
	case maybe:
		if len(prefix) >= MaxPrefix {
			return Result{Kind: HTTP}, errors.New("request line too long")
		}
		return Result{}, ErrMore
	}
	return Result{Kind: Opaque}, nil
}
