package sniff

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

type tri int

const (
	no tri = iota
	maybe
	yes
)

// looksHTTP decides whether b starts an HTTP/1 request: optional empty lines
// (servers must skip them, RFC 9112 §2.2), then a request line
// `token SP target SP HTTP/`. It answers maybe while the line is incomplete
// but still plausible, and no at the first byte that cannot belong to one,
// so binary protocols are not held back.
func looksHTTP(b []byte) tri {
	b = bytes.TrimLeft(b, "\r\n")
	if len(b) == 0 {
		return maybe
	}
	// Method: one or more token characters, then a space.
	i := 0
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i == len(b) {
		return maybe
	}
	if i == 0 || b[i] != ' ' {
		return no
	}
	// Target: visible ASCII up to a space.
	j := i + 1
	for j < len(b) && b[j] > ' ' && b[j] < 0x7f {
		j++
	}
	if j == len(b) {
		return maybe
	}
	if j == i+1 || b[j] != ' ' {
		return no
	}
	rest := b[j+1:]
	const version = "HTTP/"
	if len(rest) < len(version) {
		if bytes.HasPrefix([]byte(version), rest) {
			return maybe
		}
		return no
	}
	if !bytes.HasPrefix(rest, []byte(version)) {
		return no
	}
	return yes
}

func isTokenChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Host returns the host (without port) an HTTP/1 request head at the start
// of b is for. It returns ErrMore until the head is complete. The request
// is parsed by net/http, as a Go server would; a second Host header, or an
// absolute-form target naming another host than Host, is an error, since
// servers differ on which one wins.
func Host(b []byte) (string, error) {
	b = bytes.TrimLeft(b, "\r\n")
	end := headEnd(b)
	if end < 0 {
		if len(b) >= MaxPrefix {
			return "", errors.New("http: request head too large")
		}
		return "", ErrMore
	}
	if end > MaxPrefix {
		return "", errors.New("http: request head too large")
	}
	hosts, err := hostHeaders(b[:end])
	if err != nil {
		return "", err
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:end])))
	if err != nil {
		return "", errors.New("http: malformed request: " + err.Error())
	}
	if len(hosts) > 1 {
		return "", errors.New("http: more than one Host header")
	}
	host := req.Host // the target's authority if absolute-form, else Host
	if len(hosts) == 1 && !strings.EqualFold(stripPort(hosts[0]), stripPort(host)) {
		return "", errors.New("http: request target and Host name different hosts")
	}
	return strings.ToLower(stripPort(host)), nil
}

// hostHeaders returns the values of every Host field in head, and refuses
// field lines servers disagree on: a name with white space or other
// non-token bytes ("Host : x"), and obsolete line folding.
func hostHeaders(head []byte) ([]string, error) {
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	var hosts []string
	for _, line := range lines[1:] { // lines[0] is the request line
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, errors.New("http: folded header line")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, errors.New("http: header line without a name")
		}
		for i := 0; i < len(name); i++ {
			if !isTokenChar(name[i]) {
				return nil, fmt.Errorf("http: header name %q", name)
			}
		}
		if strings.EqualFold(name, "Host") {
			hosts = append(hosts, strings.TrimSpace(value))
		}
	}
	return hosts, nil
}

// headEnd returns the length of the request head including its blank line,
// or -1 if it is not complete.
func headEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		if j := bytes.Index(b, []byte("\n\n")); j >= 0 && j < i {
			return j + 2
		}
		return i + 4
	}
	if j := bytes.Index(b, []byte("\n\n")); j >= 0 {
		return j + 2
	}
	return -1
}

func stripPort(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}
