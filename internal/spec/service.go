package spec

import (
	"github.com/voidbox/voidbox/internal/netpolicy"
)

// servicePorts decodes the ports of a service step or box: the TCP ports
// it listens on in its guest. The service is ready once every one answers
// (or its output_file appears), and the stages depending on it reach them
// as NAME:PORT (in lower case); so the name must be a DNS name. The seed has no such field
// (its services are ready by their output file alone).
func (d *decoder) servicePorts(f *fields, name string, service bool) []uint16 {
	n, path, ok := f.get("ports")
	if !ok {
		return nil
	}
	if !service {
		d.at(f.key("ports"), path, "only applies to mode: service (the ports its dependants reach; a port forward to the host is sandbox.ports)")
		return nil
	}
	if _, err := netpolicy.NormalizeName(name); err != nil {
		d.at(f.key("ports"), path, "the service's name %q must be a DNS name: its dependants reach it by that name (%v)", name, err)
	}
	items, ok := d.seq(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.at(n, path, "empty list: give the service's ports, or leave ports out")
	}
	var out []uint16
	seen := map[int]bool{}
	for i, it := range items {
		p := index(path, i)
		v, ok := d.integer(it, p, 1, 65535)
		if !ok {
			continue
		}
		if seen[v] {
			d.at(it, p, "port %d given twice", v)
			continue
		}
		seen[v] = true
		out = append(out, uint16(v))
	}
	return out
}
