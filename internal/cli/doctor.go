package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/codex"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/vmm"
)

// check is one line of the doctor report.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCmd(e *env) *cobra.Command {
	var asJSON, boot bool
	var cacheDir, accel, file string
	var hf hostFlags
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check this host: QEMU, its confinement, guest image, cache, accelerator",
		Long: `Report what voidbox needs and whether it is in place, without changing anything:
QEMU, how QEMU is confined (its own uid, a cgroup, its seccomp filter) and why any
part is not, the guest init, the cache, the guest kernel and image, and which
accelerator (kvm or tcg) would be used and why. With --boot, also boot a VM and
run a command. With --file, also say what each box of the spec may reach on the
network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var host voidbox.HostOptions
			var errs []error
			if hf.apply(&host, &errs); len(errs) > 0 {
				return usageError{errors.Join(errs...)}
			}
			checks := doctorChecks(cmd.Context(), cacheDir, accel, boot, host)
			if file != "" {
				pc, err := policyChecks(e, file)
				if err != nil {
					return err
				}
				checks = append(checks, pc...)
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(checks); err != nil {
					return err
				}
			} else {
				for _, c := range checks {
					mark := "ok  "
					if !c.OK {
						mark = "FAIL"
					}
					first, rest, _ := strings.Cut(c.Detail, "\n")
					fmt.Fprintf(e.stdout, "%s %-12s %s\n", mark, c.Name, first)
					for _, l := range strings.Split(rest, "\n") {
						if l != "" {
							fmt.Fprintf(e.stdout, "     %-12s   %s\n", "", l)
						}
					}
					if c.Fix != "" {
						fmt.Fprintf(e.stdout, "     %-12s fix: %s\n", "", c.Fix)
					}
				}
			}
			for _, c := range checks {
				if !c.OK {
					return &exitError{code: ExitFailure}
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the checks as JSON")
	c.Flags().BoolVar(&boot, "boot", false, "also boot a VM and run a command in it")
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "artifact cache to inspect")
	c.Flags().StringVar(&accel, "accel", "", "accelerator override to evaluate (kvm, tcg, auto)")
	c.Flags().StringVarP(&file, "file", "f", "", "also describe the network policy of each box of this spec")
	hf.register(c.Flags())
	return c
}

// policyChecks describes what each box of the spec at file may reach:
// one "network" line per box, its details on the following lines.
func policyChecks(e *env, file string) ([]check, error) {
	s, _, err := loadSpec(e, file, true)
	if err != nil {
		return nil, err
	}
	var out []check
	for _, b := range s.Boxes() {
		p := b.Sandbox.Policy
		lines := p.Network.Describe()
		for _, f := range p.Ports {
			lines = append(lines, fmt.Sprintf("port forward: host %s → guest port %d", f.Host, f.GuestPort))
		}
		if len(p.CACerts) > 0 {
			lines = append(lines, "extra CA certificates trusted (ca_certificates)")
		}
		out = append(out, check{Name: "network", OK: true, Detail: "box " + b.Name + ": " + strings.Join(lines, "\n")})
	}
	return out, nil
}

func doctorChecks(ctx context.Context, cacheDir, accel string, boot bool, host voidbox.HostOptions) []check {
	var out []check
	q, err := setup.FindQEMU()
	if err != nil {
		out = append(out, check{Name: "qemu", Detail: err.Error(), Fix: "voidbox setup (as root) or apt-get install qemu-system-x86"})
	} else {
		v, _ := exec.CommandContext(ctx, q, "--version").Output()
		first, _, _ := strings.Cut(string(v), "\n")
		out = append(out, check{Name: "qemu", OK: true, Detail: q + " (" + strings.TrimSpace(first) + ")"})
		out = append(out, confinementCheck(vmm.ProbeConfinement(ctx, q).Status()))
	}
	if root, err := guestimage.CacheRoot(cacheDir); err != nil {
		out = append(out, check{Name: "cache", Detail: err.Error(), Fix: "set VOIDBOX_CACHE_DIR to a writable directory"})
	} else {
		out = append(out, check{Name: "cache", OK: true, Detail: root})
	}
	if a, err := setup.Locate(setup.GuestInit, cacheDir); err != nil {
		out = append(out, check{Name: "guest-init", Detail: err.Error()})
	} else {
		out = append(out, check{Name: "guest-init", OK: true, Detail: a})
	}
	if st, err := guestimage.Inspect(cacheDir); err != nil {
		out = append(out, check{Name: "guest-image", Detail: err.Error(), Fix: "voidbox setup"})
	} else {
		out = append(out, check{Name: "guest-image", OK: true, Detail: st.Summary() + " at " + st.Vmlinux})
	}
	out = append(out, slimKernelCheck(cacheDir))
	out = append(out, cacheCheck(cacheDir))
	// Optional: only agent stages with runtime claude-code need it.
	if im, err := claudecode.FindImage(cacheDir, ""); err != nil {
		out = append(out, check{Name: "claude-code", OK: true, Detail: "not built (optional; only for runtime: claude-code)",
			Fix: "voidbox image build claude"})
	} else {
		out = append(out, check{Name: "claude-code", OK: true, Detail: im.Summary()})
	}
	// Optional too: only agent stages with runtime codex need it.
	if im, err := codex.Find(cacheDir); err != nil {
		out = append(out, check{Name: "codex", OK: true, Detail: "not built (optional; only for runtime: codex)",
			Fix: "voidbox image build codex"})
	} else {
		out = append(out, check{Name: "codex", OK: true, Detail: im.Summary()})
	}
	ch, err := vmm.HostProbe{}.ChooseAccel(accel)
	if err != nil {
		out = append(out, check{Name: "accelerator", Detail: err.Error()})
	} else {
		d := fmt.Sprintf("%s: %s", ch.Accel, ch.Reason)
		if ch.NeedsSmokeBoot {
			d += " (confirmed by a smoke boot on first use)"
		}
		out = append(out, check{Name: "accelerator", OK: true, Detail: d})
		out = append(out, admissionCheck(ch.Accel, host))
	}
	if boot {
		out = append(out, bootCheck(ctx, cacheDir, accel))
	}
	return out
}

// confinementCheck says how QEMU would be jailed on this host and why any
// part is missing. A missing part is not a failure (QEMU still runs), but
// the line says what to change.
func confinementCheck(st vmm.ConfineStatus) check {
	c := check{Name: "confinement", OK: true, Detail: "QEMU gets " + st.Summary()}
	switch {
	case !st.OwnUID:
		c.Fix = "run voidbox as root: QEMU then runs under an unprivileged uid of its own"
	case st.Cgroup == "":
		c.Fix = "mount cgroup v2 with the memory and pids controllers (or the cgroup v1 memory and pids hierarchies)"
	case !st.Seccomp:
		c.Fix = "install a QEMU built with seccomp (Debian's qemu-system-x86 is)"
	}
	return c
}

func bootCheck(ctx context.Context, cacheDir, accel string) check {
	start := time.Now()
	sb, err := voidbox.New(ctx, voidbox.Config{Name: "doctor", Host: voidbox.HostOptions{CacheDir: cacheDir, Accel: accel}})
	if err != nil {
		return check{Name: "boot", Detail: err.Error()}
	}
	defer sb.Close()
	res, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"uname", "-r"}})
	if err != nil {
		return check{Name: "boot", Detail: err.Error()}
	}
	i := sb.Info()
	return check{Name: "boot", OK: res.ExitCode == 0, Detail: fmt.Sprintf("guest kernel %s, %s, boot %v, first exec after %v; qemu pid %d under %s",
		strings.TrimSpace(string(res.Stdout)), i.Accel, i.BootTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
		i.QEMUPID, i.Confinement.Summary())}
}

// slimKernelCheck says which guest kernel boots ($VOIDBOX_KERNEL) and
// whether the slim one is built: a failure only when it is asked for and
// missing.
func slimKernelCheck(cacheDir string) check {
	kernel, err := setup.KernelChoice("")
	if err != nil {
		return check{Name: "kernel", Detail: err.Error(), Fix: "set VOIDBOX_KERNEL to generic or slim"}
	}
	k, lerr := setup.LookupSlimKernel(cacheDir)
	slim := "slim kernel not built"
	if lerr == nil {
		slim = fmt.Sprintf("slim kernel %s built in %.0f s on %s from %s (%s)", k.Release, k.BuildSeconds,
			k.BuiltAt.Format("2006-01-02"), k.Source, k.Vmlinux)
	}
	c := check{Name: "kernel", OK: lerr == nil || kernel == setup.KernelGeneric,
		Detail: "boots the " + kernel + " kernel (VOIDBOX_KERNEL); " + slim}
	if lerr != nil {
		c.Fix = "voidbox kernel build"
	}
	return c
}
