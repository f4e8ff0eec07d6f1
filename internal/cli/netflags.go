package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/policy"
)

// netFlags are the network flags of every command that boots a VM.
// --allow already names allowed commands, so network rules are
// --allow-net; the network is off unless --net is given.
type netFlags struct {
	on        bool
	allow     []string
	deny      []string
	hostPorts []string
	hostMaps  []string
	publish   []string
	caCerts   []string
}

func (f *netFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "net", false, "give the VM a network: the public internet only, or with --allow-net only what the rules allow (every flow is decided on the host)")
	fs.StringArrayVar(&f.allow, "allow-net", nil, "with --net, allow only this (repeatable): a name (api.github.com), *.example.com, NAME:PORT, a CIDR (10.0.0.0/8)")
	fs.StringArrayVar(&f.deny, "deny-net", nil, "with --allow-net, deny this even if allowed (repeatable, same forms)")
	fs.StringArrayVar(&f.hostPorts, "host-port", nil, "with --net, let the guest reach this host loopback port at 10.0.2.2 (repeatable; e.g. 11434 for Ollama)")
	fs.StringArrayVar(&f.hostMaps, "host-map", nil, "with --net, answer NAME with ADDR (NAME=ADDR, repeatable, like --add-host; the name must still be allowed)")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "with --net, forward HOST_PORT:GUEST_PORT (or ADDR:HOST_PORT:GUEST_PORT) from the host into the VM (repeatable; 127.0.0.1 unless ADDR)")
	fs.StringArrayVar(&f.caCerts, "ca-cert", nil, "trust the CA certificates in this PEM file in the guest, besides Debian's bundle (repeatable)")
}

// apply parses the flags into p's network, ports and CAs, returning every
// problem; internal/policy validates the result.
func (f *netFlags) apply(p *policy.Sandbox) []error {
	var errs []error
	if !f.on {
		for _, fl := range []struct {
			name string
			set  bool
		}{{"--allow-net", len(f.allow) > 0}, {"--deny-net", len(f.deny) > 0}, {"--host-port", len(f.hostPorts) > 0},
			{"--host-map", len(f.hostMaps) > 0}, {"--publish", len(f.publish) > 0}} {
			if fl.set {
				errs = append(errs, fmt.Errorf("%s: needs --net (the VM has no network without it)", fl.name))
			}
		}
	} else {
		if len(f.allow) == 0 && len(f.deny) > 0 {
			errs = append(errs, errors.New("--deny-net: needs --allow-net (without rules the network is the public internet)"))
		}
		n, err := f.policy()
		errs = append(errs, err...)
		if n != nil {
			p.Network = *n
		}
		for _, s := range f.publish {
			fw, err := netpolicy.ParseForward(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("--publish: %q: %w", s, err))
				continue
			}
			p.Ports = append(p.Ports, fw)
		}
	}
	for _, file := range f.caCerts {
		b, err := os.ReadFile(file)
		if err == nil {
			err = policy.CheckCACerts(b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--ca-cert: %s: %w", file, err))
			continue
		}
		p.CACerts = append(append(p.CACerts, b...), '\n')
	}
	return errs
}

// policy is the network policy the flags describe, through netpolicy's
// parser (the spec's), with each problem named by its flag.
func (f *netFlags) policy() (*netpolicy.Policy, []error) {
	hosts := map[string]any{}
	var errs []error
	for _, m := range f.hostMaps {
		name, addr, ok := strings.Cut(m, "=")
		if !ok || name == "" {
			errs = append(errs, fmt.Errorf("--host-map: %q is not NAME=ADDR", m))
			continue
		}
		hosts[name] = addr
	}
	raw := map[string]any{"allow": f.allow, "deny": f.deny, "hosts": hosts}
	ports := make([]any, len(f.hostPorts))
	for i, s := range f.hostPorts {
		ports[i] = s
	}
	raw["host_ports"] = ports
	n, err := netpolicy.Parse(raw)
	if err != nil {
		var fe *netpolicy.FieldError
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			if !errors.As(e, &fe) {
				errs = append(errs, e)
				continue
			}
			key, _, _ := strings.Cut(fe.Path, "[")
			key, _, _ = strings.Cut(key, ".")
			flag := flagOf["network."+key]
			if fe.Value != "" {
				errs = append(errs, fmt.Errorf("%s: %q: %s", flag, fe.Value, fe.Msg))
			} else {
				errs = append(errs, fmt.Errorf("%s: %s", flag, fe.Msg))
			}
		}
		return nil, errs
	}
	if len(f.allow) == 0 {
		n.Mode = netpolicy.ModePublic // no rules: the public internet
	}
	return n, errs
}
