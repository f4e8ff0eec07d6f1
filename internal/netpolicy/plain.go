package netpolicy

// Plain is p in the plain form Parse reads back (nil for no network, true
// for the public mode, a map for an allowlist), for JSON forms of a policy.
func (p Policy) Plain() any {
	switch p.Mode {
	case ModeNone:
		return nil
	case ModePublic:
		return true
	}
	m := map[string]any{}
	rules := func(rs []Rule) []any {
		out := make([]any, len(rs))
		for i, r := range rs {
			out[i] = r.String()
		}
		return out
	}
	if len(p.Allow) > 0 {
		m["allow"] = rules(p.Allow)
	}
	if len(p.Deny) > 0 {
		m["deny"] = rules(p.Deny)
	}
	if len(p.HostPorts) > 0 {
		ports := make([]any, len(p.HostPorts))
		for i, hp := range p.HostPorts {
			ports[i] = int64(hp)
		}
		m["host_ports"] = ports
	}
	if len(p.Hosts) > 0 {
		hosts := map[string]any{}
		for n, a := range p.Hosts {
			hosts[n] = a.String()
		}
		m["hosts"] = hosts
	}
	lim := map[string]any{}
	if p.Limits.ConnsPerSecond != 0 {
		lim["conns_per_second"] = int64(p.Limits.ConnsPerSecond)
	}
	if p.Limits.MaxFlows != 0 {
		lim["max_flows"] = int64(p.Limits.MaxFlows)
	}
	if p.Limits.MaxBytes != 0 {
		lim["max_bytes"] = p.Limits.MaxBytes
	}
	if len(lim) > 0 {
		m["limits"] = lim
	}
	return m
}
