package oci

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// httpsOnly refuses plain-HTTP requests to any host but localhost and the
// loopback addresses. go-containerregistry itself falls back to HTTP for
// private (RFC 1918) and *.local registries too; voidbox does not, so no
// image bytes travel unauthenticated over a real network. It also covers
// redirects (blob storage), which pass through the same transport.
type httpsOnly struct {
	next    http.RoundTripper
	refused *atomic.Bool // set when a plain-HTTP request was refused
}

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !loopbackHost(req.URL.Hostname()) {
		h.refused.Store(true)
		return nil, fmt.Errorf("%w to %s: only localhost and 127.0.0.1 registries may use plain HTTP", ErrInsecure, req.URL.Host)
	}
	return h.next.RoundTrip(req)
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// explainRefused says why a failed request was not retried over HTTP:
// go-containerregistry tries HTTPS and HTTP side by side and reports only
// one of the failures.
func explainRefused(ref name.Reference, err error, refused bool) error {
	if refused && !errors.Is(err, ErrInsecure) {
		return fmt.Errorf("%w: %s did not answer over HTTPS (%v), and only localhost and 127.0.0.1 registries may use plain HTTP",
			ErrInsecure, ref.Context().RegistryStr(), err)
	}
	return explain(ref, err)
}

// explain turns the registry's answers into sentences that say what to do.
func explain(ref name.Reference, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			reg := ref.Context().RegistryStr()
			return fmt.Errorf("%w: %s answered %d for %s: log in with `docker login %s` (voidbox reads "+
				"$DOCKER_CONFIG/config.json or ~/.docker/config.json and its credential helpers)",
				ErrUnauthorized, reg, te.StatusCode, ref, reg)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s has no %s (%v)", ErrNotFound, ref.Context().RegistryStr(), ref, err)
		}
	}
	if strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%w: %s speaks plain HTTP: only localhost and 127.0.0.1 registries may", ErrInsecure, ref.Context().RegistryStr())
	}
	return err
}
