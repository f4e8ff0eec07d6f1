package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/bytesize"
	"github.com/voidbox/voidbox/internal/wire"
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
}

func (f *sandboxFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.memory, "memory", "512M", "guest memory (e.g. 512M, 1G; minimum 64M)")
	fs.StringVar(&f.disk, "disk", "", "budget of the guest's writable filesystems together (/workspace, /tmp, ...; e.g. 128M; at most half of --memory; default half the memory free after boot)")
	fs.IntVar(&f.cpus, "cpus", 1, "number of vCPUs")
	fs.DurationVar(&f.timeout, "timeout", 0, "kill the command after this long (e.g. 30s; 0: no limit)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable in the guest (KEY=VALUE, repeatable)")
	fs.StringSliceVar(&f.allow, "allow", nil, "only allow these commands (names, comma-separated or repeated; --allow= allows none). "+
		"Only the program started is checked: allowing sh allows everything")
	fs.StringVar(&f.accel, "accel", "", "accelerator: kvm, tcg or auto (default $VOIDBOX_ACCEL or auto)")
	fs.StringVar(&f.consoleLog, "console-log", "", "keep the guest serial console in this file")
	fs.DurationVar(&f.bootTimeout, "boot-timeout", voidbox.DefaultBootTimeout, "give up if the guest is not up after this long")
	fs.StringVar(&f.outputLimit, "output-limit", "16M", "cap on each output stream; the rest is dropped with a notice")
}

// config validates the flags and returns the sandbox config; every problem is
// reported, each naming its flag.
func (f *sandboxFlags) config(name string) (voidbox.Config, error) {
	var errs []error
	cfg := voidbox.Config{
		Name:            name,
		CPUs:            f.cpus,
		Timeout:         f.timeout,
		AllowedCommands: f.allow,
		Accel:           f.accel,
		ConsoleLog:      f.consoleLog,
		BootTimeout:     f.bootTimeout,
	}
	mem, err := bytesize.Parse(f.memory)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("--memory: %w", err))
	case mem < 64<<20:
		errs = append(errs, fmt.Errorf("--memory: %s is below the 64M minimum", f.memory))
	default:
		cfg.MemoryMiB = int(mem >> 20)
	}
	if f.disk != "" {
		switch d, err := bytesize.Parse(f.disk); {
		case err != nil:
			errs = append(errs, fmt.Errorf("--disk: %w", err))
		case d < voidbox.MinDiskMiB<<20 || (cfg.MemoryMiB > 0 && d > int64(cfg.MemoryMiB)<<19):
			errs = append(errs, fmt.Errorf("--disk: %s is outside %dM..%dM (at most half of --memory)", f.disk, voidbox.MinDiskMiB, cfg.MemoryMiB/2))
		default:
			cfg.DiskMiB = int(d >> 20)
		}
	}
	if f.cpus < 1 || f.cpus > 64 {
		errs = append(errs, fmt.Errorf("--cpus: %d is outside 1..64", f.cpus))
	}
	if f.timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout: %v is negative", f.timeout))
	}
	if f.bootTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--boot-timeout: %v must be positive", f.bootTimeout))
	}
	switch f.accel {
	case "", "auto", "kvm", "tcg":
	default:
		errs = append(errs, fmt.Errorf("--accel: %q is not kvm, tcg or auto", f.accel))
	}
	if lim, err := bytesize.Parse(f.outputLimit); err != nil || lim < 1 {
		errs = append(errs, fmt.Errorf("--output-limit: %q is not a positive size", f.outputLimit))
	} else {
		cfg.OutputLimit = lim
	}
	if len(f.env) > 0 {
		cfg.Env = map[string]string{}
	}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("--env: %q is not KEY=VALUE", kv))
			continue
		}
		cfg.Env[k] = v
	}
	for _, a := range f.allow {
		if err := wire.CheckCommandName(a); err != nil {
			errs = append(errs, fmt.Errorf("--allow: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}
