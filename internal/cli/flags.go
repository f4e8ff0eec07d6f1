package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/bytesize"
	"github.com/voidbox/voidbox/internal/policy"
)

// sandboxFlags are the flags every command that boots a VM shares.
type sandboxFlags struct {
	memory      string
	disk        string
	cpus        int
	timeout     time.Duration
	env         []string
	allow       []string
	accel       string
	consoleLog  string
	bootTimeout time.Duration
	outputLimit string
	net         netFlags
	image       string
	mounts      []string
	host        hostFlags
}

// hostFlags are the host's VM budgets, shared by every command that boots.
type hostFlags struct {
	bootSlots    int
	memoryBudget string
}

func (f *hostFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.bootSlots, "boot-slots", 0, "VMs booting at once on this host, across every voidbox process (default $VOIDBOX_BOOT_SLOTS or the core count under TCG)")
	fs.StringVar(&f.memoryBudget, "memory-budget", "", "memory of the VMs running at once on this host, across every voidbox process (e.g. 12G; default $VOIDBOX_MEMORY_BUDGET or 3/4 of RAM)")
}

// apply sets h's budgets from the flags, collecting problems in errs.
func (f *hostFlags) apply(h *voidbox.HostOptions, errs *[]error) {
	if f.bootSlots < 0 {
		*errs = append(*errs, fmt.Errorf("--boot-slots: %d is negative", f.bootSlots))
	}
	h.BootSlots = f.bootSlots
	if f.memoryBudget != "" {
		n, err := bytesize.Parse(f.memoryBudget)
		switch {
		case err != nil:
			*errs = append(*errs, fmt.Errorf("--memory-budget: %w", err))
		case n < 1<<20:
			*errs = append(*errs, fmt.Errorf("--memory-budget: %s is less than 1M", f.memoryBudget))
		default:
			h.MemoryBudgetMiB = int(n >> 20)
		}
	}
}

func (f *sandboxFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.memory, "memory", "512M", "guest memory (e.g. 512M, 1G; minimum 128M)")
	fs.StringVar(&f.disk, "disk", "", "budget of the guest's writable filesystems together (/workspace, /tmp, ...; e.g. 128M; at most half of --memory; default half the memory free after boot)")
	fs.IntVar(&f.cpus, "cpus", 1, "number of vCPUs")
	fs.DurationVar(&f.timeout, "timeout", 0, "kill the command after this long (e.g. 30s; 0: no limit)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable in the guest (KEY=VALUE, repeatable)")
	fs.StringSliceVar(&f.allow, "allow", nil, "only allow these commands (names, comma-separated or repeated; --allow= allows none). "+
		"Every program run is checked in the guest kernel, what an allowed sh starts too (not --allow-net: that is the network)")
	fs.StringVar(&f.accel, "accel", "", "accelerator: kvm, tcg or auto (default $VOIDBOX_ACCEL or auto)")
	fs.StringVar(&f.consoleLog, "console-log", "", "keep the guest serial console in this file")
	fs.DurationVar(&f.bootTimeout, "boot-timeout", voidbox.DefaultBootTimeout, "give up if the guest is not up after this long")
	fs.StringVar(&f.outputLimit, "output-limit", "16M", "cap on each output stream; the rest is dropped with a notice")
	f.net.register(fs)
	fs.StringVar(&f.image, "image", "", "boot from this OCI image's file system (pulled into the image cache if missing); default voidbox's own initramfs")
	fs.StringArrayVar(&f.mounts, "mount", nil, "share a host directory: HOST:GUEST[:ro|rw] (repeatable; ro by default, enforced on the host)")
	f.host.register(fs)
}

// flagOf names the flag that sets each policy field (policy.Problem.Key;
// network fields by their first two parts, see flagFor).
var flagOf = map[string]string{
	"memory_mb": "--memory", "vcpus": "--cpus", "disk_mb": "--disk", "timeout": "--timeout",
	"env": "--env", "allowed_commands": "--allow", "output_limit": "--output-limit",
	"network": "--net", "network.allow": "--allow-net", "network.deny": "--deny-net",
	"network.host_ports": "--host-port", "network.hosts": "--host-map", "ports": "--publish",
	"ca_certificates": "--ca-cert", "image": "--image", "mounts": "--mount",
}

// flagFor is the flag behind a policy problem.
func flagFor(p policy.Problem) string {
	if p.Key() == "network" {
		rest := strings.TrimPrefix(p.Field, "network.")
		sub, _, _ := strings.Cut(rest, ".")
		sub, _, _ = strings.Cut(sub, "[")
		if f, ok := flagOf["network."+sub]; ok {
			return f
		}
	}
	return flagOf[p.Key()]
}

// config validates the flags and returns the sandbox config; every problem is
// reported, each naming its flag. The policy's own validation
// (internal/policy) decides what is valid; this only parses.
func (f *sandboxFlags) config(name string) (voidbox.Config, error) {
	var errs []error
	cfg := voidbox.Config{
		Name:       name,
		ConsoleLog: f.consoleLog,
		Policy:     voidbox.Policy{VCPUs: f.cpus, Timeout: f.timeout, AllowedCommands: f.allow},
		Host:       voidbox.HostOptions{Accel: f.accel, BootTimeout: f.bootTimeout},
	}
	p := &cfg.Policy
	if f.cpus == 0 {
		p.VCPUs = -1 // an explicit 0 is an error, not "the default"
	}
	size := func(flag, v string) int64 {
		n, err := bytesize.Parse(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
			return -1
		}
		return n
	}
	if mem := size("--memory", f.memory); mem >= 0 {
		// Round down to MiB; a size below 1 MiB is an error, not the default.
		p.MemoryMiB = max(int(mem>>20), 1)
	}
	if f.disk != "" {
		if d := size("--disk", f.disk); d >= 0 {
			p.DiskMiB = max(int(d>>20), 1)
		}
	}
	if lim := size("--output-limit", f.outputLimit); lim > 0 {
		p.OutputLimit = lim
	} else if lim == 0 {
		p.OutputLimit = -1 // an explicit 0 is an error, not "the default"
	}
	f.host.apply(&cfg.Host, &errs)
	if f.bootTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--boot-timeout: %v must be positive", f.bootTimeout))
	}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("--env: %q is not KEY=VALUE", kv))
			continue
		}
		if p.Env == nil {
			p.Env = map[string]string{}
		}
		p.Env[k] = v
	}
	errs = append(errs, f.net.apply(p)...)
	p.Image = f.image
	for _, spec := range f.mounts {
		m, err := parseMount(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("--mount %s: %w", spec, err))
			continue
		}
		p.Mounts = append(p.Mounts, m)
	}
	for _, pr := range policy.AsProblems(p.Validate()) {
		errs = append(errs, fmt.Errorf("%s: %s", flagFor(pr), pr.Message))
	}
	switch f.accel {
	case "", "auto", "kvm", "tcg":
	default:
		errs = append(errs, fmt.Errorf("--accel: %q is not kvm, tcg or auto", f.accel))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// parseMount reads HOST:GUEST[:ro|rw]; a relative HOST is relative to the
// working directory and must be an existing directory.
func parseMount(s string) (policy.Mount, error) {
	parts := strings.Split(s, ":")
	m := policy.Mount{Mode: policy.ReadOnly}
	switch len(parts) {
	case 3:
		switch mode := policy.MountMode(parts[2]); mode {
		case policy.ReadOnly, policy.ReadWrite:
			m.Mode = mode
		default:
			return m, fmt.Errorf("mode %q: want ro or rw", parts[2])
		}
	case 2:
	default:
		return m, errors.New("want HOST:GUEST[:ro|rw]")
	}
	host, err := filepath.Abs(parts[0])
	if err != nil || parts[0] == "" {
		return m, fmt.Errorf("host path %q: %v", parts[0], err)
	}
	fi, err := os.Stat(host)
	if err != nil {
		return m, fmt.Errorf("%s: %w (a missing host path is an error, not created)", parts[0], errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return m, fmt.Errorf("%s: not a directory", parts[0])
	}
	m.Host, m.Guest = host, parts[1]
	return m, nil
}
