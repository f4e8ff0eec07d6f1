package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/policy"
)

// network decodes `network: false | true | {allow, deny, host_ports,
// hosts, limits}` with internal/netpolicy's parser, which names every bad
// entry by its path inside the block; each is reported at that entry's
// line and column. A box's network replaces the one it inherits.
func (d *decoder) network(f *fields, p *policy.Sandbox) {
	n, path, ok := f.get("network")
	if !ok {
		return
	}
	nodes, keys := map[string]*yamlNode{}, map[string]*yamlNode{}
	objs := map[string]*object{path: &networkObject, join(path, "limits"): &netLimitsObject}
	raw, ok := d.plain(n, path, nodes, keys, objs)
	if !ok {
		return
	}
	np, err := netpolicy.Parse(raw)
	if err != nil {
		for _, e := range unjoin(err) {
			var fe *netpolicy.FieldError
			if !errors.As(e, &fe) {
				d.at(n, path, "%v", e)
				continue
			}
			at := path
			if fe.Path != "network" {
				at = join(path, fe.Path)
			}
			msg := fe.Msg
			if fe.Value != "" {
				msg = strconv.Quote(fe.Value) + ": " + msg
			}
			where := nodes
			if strings.HasPrefix(fe.Msg, "unknown field") {
				where = keys // point at the misspelt key, not its value
			}
			d.at(nearest(where, at, n), at, "%s", msg)
		}
		return
	}
	if d.noHost && len(np.HostPorts) > 0 {
		at := join(path, "host_ports")
		d.at(nearest(nodes, at, n), at, "%s", noHostPorts)
		return
	}
	p.Network = *np
}

// noHostPorts is the problem of host_ports or ports under
// ParseOptions.NoHost: either would reach into, or listen on, the
// daemon's own host.
const noHostPorts = "a spec sent to a daemon cannot reach or open ports of its host"

// plain turns a node into the plain value netpolicy.Parse reads (bool,
// string, int64, float64, nil, []any, map[string]any), recording each
// value's node, and each mapping key's, by its path so problems can be
// placed.
// The mappings at the paths of objs must be those objects: their unknown
// keys are reported (with a suggestion) and dropped.
func (d *decoder) plain(n *yamlNode, path string, nodes, keys map[string]*yamlNode, objs map[string]*object) (any, bool) {
	if n = d.resolve(n, path); n == nil {
		return nil, false
	}
	nodes[path] = n
	switch n.Kind {
	case yaml.MappingNode:
		f := d.mapping(n, path, objs[path])
		if f == nil {
			return nil, false
		}
		m := make(map[string]any, len(f.keys))
		ok := true
		for _, k := range f.keys {
			e, known := f.m[k]
			if !known {
				continue // reported by mapping; the rest is still checked
			}
			keys[join(path, k)] = e.key
			v, good := d.plain(e.val, join(path, k), nodes, keys, objs)
			ok = ok && good
			m[k] = v
		}
		return m, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, good := d.plain(c, index(path, i), nodes, keys, objs)
			ok = ok && good
			out = append(out, v)
		}
		return out, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!bool":
			return d.boolean(n, path)
		case "!!int":
			v, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil {
				d.at(n, path, "%q is not an integer this format reads", n.Value)
				return nil, false
			}
			return v, true
		case "!!float":
			v, err := strconv.ParseFloat(n.Value, 64)
			if err != nil {
				d.at(n, path, "%q is not a number", n.Value)
				return nil, false
			}
			return v, true
		case "!!null":
			return nil, true
		case "!!str":
			return n.Value, true
		}
	}
	d.at(n, path, "unexpected %s", describe(n))
	return nil, false
}

// nearest is the node recorded for path or, failing that, for the longest
// recorded prefix of it (a problem about a whole list is at the list). The
// keys of hosts: are names with dots, so a prefix may end inside one.
func nearest(nodes map[string]*yamlNode, path string, fallback *yamlNode) *yamlNode {
	for p := path; p != ""; {
		if n, ok := nodes[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return fallback
}

// ports decodes `ports: ["8080:80", "127.0.0.1:9000:9000"]`, forwards from
// the host into the box (docker -p syntax; 127.0.0.1 unless an address is
// written). They need a network, which Validate checks on the merged box.
func (d *decoder) ports(f *fields, p *policy.Sandbox) {
	n, path, ok := f.get("ports")
	if !ok {
		return
	}
	if d.noHost {
		d.at(n, path, "%s", noHostPorts)
		return
	}
	var out []netpolicy.Forward
	specs, ok := d.strList(n, path, func(n *yamlNode, path string) (string, bool) {
		s, ok := d.str(n, path)
		if !ok {
			return "", false
		}
		fw, err := netpolicy.ParseForward(s)
		if err != nil {
			d.at(n, path, "%q: %v", s, err)
			return "", false
		}
		out = append(out, fw)
		return s, true
	})
	if ok && len(specs) == len(out) {
		p.Ports = out
	}
}

// caCertificates decodes `ca_certificates: [ca.pem, ...]`: host files of
// PEM CA certificates (relative to the spec's directory), read now, which
// the guest's TLS clients trust besides Debian's bundle.
func (d *decoder) caCertificates(f *fields, p *policy.Sandbox) {
	n, path, ok := f.get("ca_certificates")
	if !ok {
		return
	}
	var pem []byte
	_, ok = d.strList(n, path, func(n *yamlNode, path string) (string, bool) {
		s, ok := d.str(n, path)
		if !ok {
			return "", false
		}
		if d.noHost {
			d.at(n, path, "%s: %s", s, noHostFiles)
			return "", false
		}
		abs := s
		if !filepath.IsAbs(s) {
			abs = filepath.Join(d.dir, s)
		}
		b, err := os.ReadFile(abs)
		if err != nil {
			d.at(n, path, "%s: %v", s, unwrapPath(err))
			return "", false
		}
		if err := policy.CheckCACerts(b); err != nil {
			d.at(n, path, "%s: %v", s, err)
			return "", false
		}
		pem = append(append(pem, b...), '\n')
		return s, true
	})
	if !ok {
		return
	}
	if err := policy.CheckCACerts(pem); err != nil {
		d.at(n, path, "%v", err) // each file is fine, together they are too large
		return
	}
	p.CACerts = pem
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
