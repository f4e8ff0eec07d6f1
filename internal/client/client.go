// Package client is the Go client of the voidbox daemon's /v1 API: what
// the CLI's remote commands use, and the model for SDKs in other
// languages. It speaks HTTP/1.1 over the daemon's unix socket or over TCP
// (with the bearer token, TLS when the URL is https).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/apiv1"
)

// Client talks to one daemon. Its methods are safe for concurrent use.
type Client struct {
	base  string // http://voidbox or the TCP URL, no trailing slash
	token string
	hc    *http.Client
}

// Options for New.
type Options struct {
	// Token is the bearer token (TCP); "" sends none (the unix socket
	// needs none).
	Token string
	// HTTPClient overrides the transport (tests); its Timeout must be 0,
	// event streams and execs last.
	HTTPClient *http.Client
}

// New returns a client of the daemon at host:
//
//	unix:///path/voidbox.sock   (or a bare /path)
//	tcp://HOST:PORT             (plain HTTP: loopback or a trusted network)
//	http://HOST:PORT, https://HOST:PORT
func New(host string, o Options) (*Client, error) {
	c := &Client{token: o.Token, hc: o.HTTPClient}
	var dial func(ctx context.Context) (net.Conn, error)
	switch {
	case strings.HasPrefix(host, "unix://") || strings.HasPrefix(host, "/"):
		path := strings.TrimPrefix(host, "unix://")
		if path == "" || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("daemon address %q: want unix:///absolute/path", host)
		}
		c.base = "http://voidbox"
		dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	case strings.HasPrefix(host, "tcp://"):
		c.base = "http://" + strings.TrimPrefix(host, "tcp://")
	case strings.HasPrefix(host, "http://"), strings.HasPrefix(host, "https://"):
		c.base = strings.TrimRight(host, "/")
	default:
		return nil, fmt.Errorf("daemon address %q: want unix:///PATH, tcp://HOST:PORT or http(s)://HOST:PORT", host)
	}
	if u, err := url.Parse(c.base); err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("daemon address %q: want HOST:PORT and no path", host)
	}
	if c.hc == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
			ResponseHeaderTimeout: 0, ForceAttemptHTTP2: true}
		if dial != nil {
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
		}
		c.hc = &http.Client{Transport: tr}
	}
	return c, nil
}

// Env is what FromEnv reads.
const (
	EnvHost      = "VOIDBOX_HOST"       // the daemon's address (see New)
	EnvToken     = "VOIDBOX_TOKEN"      // its bearer token
	EnvTokenFile = "VOIDBOX_TOKEN_FILE" // or a file holding it
)

// FromEnv is New with $VOIDBOX_HOST (else defaultHost) and the token from
// $VOIDBOX_TOKEN or the file $VOIDBOX_TOKEN_FILE names.
func FromEnv(getenv func(string) string, defaultHost string) (*Client, error) {
	host := getenv(EnvHost)
	if host == "" {
		host = defaultHost
	}
	tok := getenv(EnvToken)
	if tok == "" {
		if f := getenv(EnvTokenFile); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", EnvTokenFile, err)
			}
			tok = strings.TrimSpace(string(b))
		}
	}
	return New(host, Options{Token: tok})
}

// Error is an error answer of the daemon.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" && !strings.Contains(msg, "\n") {
		msg = e.Field + ": " + msg
	}
	return msg
}

// IsNotFound reports whether err is a 404 of the daemon.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// do sends a request and decodes a JSON answer into out (nil: none).
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body io.Reader, out any) error {
	resp, err := c.send(ctx, method, path, hdr, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// send sends a request; a status of 400 or more becomes an *Error.
func (c *Client) send(ctx context.Context, method, path string, hdr http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the voidbox daemon: %w", err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	var b apiv1.ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(raw, &b); err != nil || b.Error.Code == "" {
		return &Error{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(raw))}
	}
	return &Error{Status: resp.StatusCode, Code: b.Error.Code, Message: b.Error.Message, Field: b.Error.Field}
}

func jsonBody(v any) (http.Header, io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(b), nil
}

// Health is GET /v1/health.
func (c *Client) Health(ctx context.Context) (apiv1.Health, error) {
	var h apiv1.Health
	return h, c.do(ctx, "GET", "/v1/health", nil, nil, &h)
}

// Version is GET /v1/version.
func (c *Client) Version(ctx context.Context) (apiv1.VersionInfo, error) {
	var v apiv1.VersionInfo
	return v, c.do(ctx, "GET", "/v1/version", nil, nil, &v)
}
