package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/bench"
)

func newBenchCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure voidbox against baselines taken in the same run",
	}
	c.AddCommand(newBenchBootCmd(e), newBenchFanOutCmd(e), newBenchImageCmd(e), newBenchServeCmd(e), newBenchLoadCmd(e), newBenchNetCmd(e), newBenchDensityCmd(e))
	return c
}

func newBenchBootCmd(e *env) *cobra.Command {
	var o bench.BootOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "boot",
		Short: "Cold start vs raw QEMU, exec round trip, idle memory",
		Long: `Alternate two kinds of boot with the same kernel, image and memory:
  floor:   raw QEMU whose /init powers off at once (the best any VMM wrapper can do);
  voidbox: voidbox.New and the first Exec result;
  warm:    voidbox.Restore from a snapshot taken once in the same run, and the first Exec result;
  slim:    when the slim kernel is built (voidbox kernel build), its own floor and cold starts.
Print p50/p95 of each and their ratios (cold/floor ≤ 1.10, warm/cold ≤ 0.2, slim/generic cold
≤ 0.6), then the round trip of Exec("true")
on a running sandbox (target p50 ≤ 5 ms) and QEMU's resident memory for one idle sandbox.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
			r, err := bench.Boot(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "accelerator %s, guest kernel %s, %d MiB\n", r.Accel, r.Kernel, o.MemoryMiB)
			fmt.Fprintf(e.stdout, "floor (raw qemu → poweroff):   %v\n", r.Floor)
			fmt.Fprintf(e.stdout, "voidbox (new → first exec):    %v\n", r.ColdStart)
			fmt.Fprintf(e.stdout, "ratio voidbox/floor:           p50 %.3f  p95 %.3f  (target ≤ 1.10)\n", r.RatioP50, r.RatioP95)
			fmt.Fprintf(e.stdout, "warm (restore → first exec):   %v  (snapshot saved in %d ms)\n", r.WarmStart, r.SnapshotSave)
			met := "met"
			if r.WarmRatioP50 > 0.2 {
				met = "not met"
			}
			fmt.Fprintf(e.stdout, "ratio warm/cold:               p50 %.3f  (target ≤ 0.20, %s)\n", r.WarmRatioP50, met)
			if r.SlimColdStart == nil {
				fmt.Fprintf(e.stdout, "slim kernel:                   %s\n", r.SlimNotBuiltHint)
			} else {
				fmt.Fprintf(e.stdout, "slim kernel %s:\n", r.SlimKernel)
				fmt.Fprintf(e.stdout, "  floor (raw qemu → poweroff): %v\n", *r.SlimFloor)
				fmt.Fprintf(e.stdout, "  voidbox (new → first exec):  %v\n", *r.SlimColdStart)
				fmt.Fprintf(e.stdout, "  ratio voidbox/floor:         p50 %.3f  (target ≤ 1.10, %s)\n", r.SlimRatioP50, metIf(r.SlimRatioP50 <= 1.10))
				fmt.Fprintf(e.stdout, "  ratio slim/generic cold:     p50 %.3f  (target ≤ 0.60, %s)\n", r.SlimVsGenericP50, metIf(r.SlimVsGenericP50 <= 0.60))
			}
			fmt.Fprintf(e.stdout, "exec round trip (true):        %v  (target p50 ≤ 5ms)\n", r.ExecRTT)
			fmt.Fprintf(e.stdout, "guest's own fork+exec+wait:    %v per /bin/true (the floor under the round trip)\n", r.GuestSpawn.Round(10*time.Microsecond))
			fmt.Fprintf(e.stdout, "idle sandbox qemu RSS:         %d MiB\n", r.IdleRSSkB/1024)
			return nil
		},
	}
	c.Flags().IntVar(&o.Iterations, "iterations", 10, "boots of each kind")
	c.Flags().IntVar(&o.Execs, "execs", 200, "exec round trips to time")
	c.Flags().IntVar(&o.MemoryMiB, "memory-mib", 512, "guest memory")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func newBenchFanOutCmd(e *env) *cobra.Command {
	var o bench.FanOutOptions
	var asJSON, warm bool
	var pool, stages int
	c := &cobra.Command{
		Use:   "fanout",
		Short: "Wall time of a fan-out of N command stages vs one stage",
		Long: `Alternate a one-stage pipeline and a fan-out of N stages (each runs "true" in its own VM)
and compare the fan-out's p50 with the budget ceil(N / parallel width) × single p50 + 20%,
where the width is the number of cores, or max_parallel if smaller.

With --warm: cold against warm starts instead, for a fan-out of N (default 5) and a pipeline
of --stages (default 10) "true" stages. The fan-out runs cold (every VM booted), warm
(restored from a template kept across runs) and from a pool of --pool parked VMs (refilled
between runs); the pipeline cold, with a run's own warm starts (voidbox run's default) and
with a run's own pool of one (run --warm 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
			if warm {
				return benchWarmFanOut(cmd.Context(), e, bench.WarmFanOutOptions{N: o.N, Stages: stages, Pool: pool,
					Iterations: o.Iterations, Progress: e.stderr}, cmd.Flags().Changed("n"), asJSON)
			}
			r, err := bench.FanOut(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "N=%d max_parallel=%d cores=%d\n", r.N, r.MaxParallel, r.Cores)
			fmt.Fprintf(e.stdout, "single stage:   %v\n", r.Single)
			fmt.Fprintf(e.stdout, "fan-out of %d:   %v\n", r.N, r.FanOut)
			fmt.Fprintf(e.stdout, "budget %v; fan-out p50 / budget = %.3f (target ≤ 1)\n",
				time.Duration(r.Budget).Round(10*time.Millisecond), r.BudgetRatio)
			return nil
		},
	}
	c.Flags().IntVar(&o.N, "n", 4, "branches")
	c.Flags().IntVar(&o.MaxParallel, "max-parallel", 0, "cap on concurrent VMs (0: none)")
	c.Flags().IntVar(&o.Iterations, "iterations", 3, "runs of each shape")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().BoolVar(&warm, "warm", false, "compare cold and warm starts (fan-out of 5 and a pipeline of 10 by default)")
	c.Flags().IntVar(&pool, "pool", 0, "with --warm: parked VMs of the pool (default N)")
	c.Flags().IntVar(&stages, "stages", 10, "with --warm: stages of the sequential pipeline")
	return c
}

func benchWarmFanOut(ctx context.Context, e *env, o bench.WarmFanOutOptions, nSet, asJSON bool) error {
	if !nSet {
		o.N = 5
	}
	r, err := bench.WarmFanOut(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e, r)
	}
	met := func(ratio, target float64) string {
		if ratio <= target {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(e.stdout, "fan-out of %d, cold:             %v\n", r.N, r.FanOutCold)
	fmt.Fprintf(e.stdout, "fan-out of %d, warm (template):  %v  (%.3f× cold)\n", r.N, r.FanOutWarm, r.FanOutWarmRatio)
	fmt.Fprintf(e.stdout, "fan-out of %d, pool of %d:        %v  (%.3f× cold, target ≤ 0.35, %s)\n", r.N, r.Pool, r.FanOutPool, r.FanOutPoolRatio, met(r.FanOutPoolRatio, 0.35))
	fmt.Fprintf(e.stdout, "%d stages, cold:                %v\n", r.Stages, r.PipeCold)
	fmt.Fprintf(e.stdout, "%d stages, warm (run's own):    %v  (%.3f× cold, target < 0.5, %s)\n", r.Stages, r.PipeWarm, r.PipeWarmRatio, met(r.PipeWarmRatio, 0.5))
	fmt.Fprintf(e.stdout, "%d stages, run's pool of 1:     %v  (%.3f× cold, target < 0.5, %s)\n", r.Stages, r.PipePool, r.PipePoolRatio, met(r.PipePoolRatio, 0.5))
	return nil
}

func newBenchImageCmd(e *env) *cobra.Command {
	var o bench.ImageOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "image",
		Short: "OCI image boots vs the initramfs, first pull and convert, host mount throughput",
		Long: `Build the Debian toolbox image if needed (about 100 MB), push it to a registry on loopback and
pull it into an empty cache, timing the pull and the erofs conversion. Then alternate boots to
the first exec result from voidbox's initramfs and from the image (target ratio ≤ 1.15). Then,
for virtiofs and 9p, time a large file written and read and many small files written and read
on a read-write host mount against the same operations on the guest's tmpfs, in the same VM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
			r, err := bench.Image(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "accelerator %s, %d MiB, image %s\n", r.Accel, o.MemoryMiB, r.Image)
			fmt.Fprintf(e.stdout, "first pull (loopback registry): %v for %.1f MB; erofs conversion %v → %.1f MB\n",
				r.Pull.Round(10*time.Millisecond), float64(r.Size)/1e6, r.Convert.Round(10*time.Millisecond), float64(r.RootFS)/1e6)
			fmt.Fprintf(e.stdout, "initramfs (boot → first exec): %v\n", r.Initramfs)
			fmt.Fprintf(e.stdout, "OCI image (boot → first exec): %v\n", r.OCI)
			fmt.Fprintf(e.stdout, "ratio image/initramfs:         p50 %.3f  p95 %.3f  (target ≤ 1.15)\n", r.RatioP50, r.RatioP95)
			for _, m := range r.Mounts {
				for _, k := range m.Cases {
					fmt.Fprintf(e.stdout, "%-9s %-12s %9.1f %-7s  tmpfs %9.1f  ratio %.3f\n", m.Protocol, k.Name, k.Mount, k.Unit, k.Tmpfs, k.Ratio)
				}
			}
			return nil
		},
	}
	c.Flags().IntVar(&o.Iterations, "iterations", 10, "boots of each kind")
	c.Flags().IntVar(&o.MemoryMiB, "memory-mib", 512, "guest memory")
	c.Flags().IntVar(&o.LargeMiB, "large-mib", 64, "size of the large file, MiB")
	c.Flags().IntVar(&o.SmallFiles, "small-files", 500, "number of 4 KiB files")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func newBenchServeCmd(e *env) *cobra.Command {
	var o bench.ServeOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "The daemon: API overhead per run vs voidbox run, event delay, a queue of runs",
		Long: `Start a daemon in this process on a private socket, then:
  overhead: alternate "voidbox run" of a one-stage run of true and the same run through the API
            (submit, follow its events to the end, read the report); ratio of p50s (target ≤ 1.05);
  events:   the delay from each output chunk's event on the host to an SSE client;
  queue:    --queued runs of true submitted at once with --max-vms, all to their end; errors,
            and this process's RSS, fds and goroutines before and after.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			o.Exe, o.Progress = exe, e.stderr
			r, err := bench.Serve(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "store %s\n", r.Store)
			fmt.Fprintf(e.stdout, "voidbox run:      %v\n", r.CLI)
			fmt.Fprintf(e.stdout, "through the API:  %v\n", r.API)
			fmt.Fprintf(e.stdout, "ratio API/CLI:    p50 %.3f (target ≤ 1.05)\n", r.RatioP50)
			fmt.Fprintf(e.stdout, "event → SSE:      %v\n", r.EventDelay)
			fmt.Fprintf(e.stdout, "%d queued runs, %d VMs: %v, %d errors, %d VMs left\n", r.Queued, r.MaxVMs,
				r.QueueWall.Round(100*time.Millisecond), r.QueueErrors, r.VMsLeft)
			fmt.Fprintf(e.stdout, "RSS %d → %d MiB, fds %d → %d, goroutines %d → %d\n", r.RSSBeforekB/1024, r.RSSAfterkB/1024,
				r.FDsBefore, r.FDsAfter, r.GoBefore, r.GoAfter)
			return nil
		},
	}
	c.Flags().IntVar(&o.Iterations, "iterations", 5, "runs of each side of the overhead comparison")
	c.Flags().IntVar(&o.Queued, "queued", 100, "runs submitted at once")
	c.Flags().IntVar(&o.MaxVMs, "max-vms", 2, "the daemon's VM cap")
	c.Flags().StringVar(&o.Store, "store", "", "store URL (default SQLite in a temporary directory)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newBenchLoadCmd(e *env) *cobra.Command {
	var o bench.LoadOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "load N [-- COMMAND...]",
		Short: "N voidbox exec processes at once: all finish, how long they queued and booted",
		Long: `Start one "voidbox exec" alone (the baseline), then N at once as separate processes,
each running COMMAND (default: sh -c 'echo ok') in its own VM. Print how many succeeded,
the wall time against the ideal N × baseline ÷ boot slots (target ≤ 1.5), p50/p95 of the
time each waited for a VM slot and of its boot, the host's lowest MemAvailable, swapping
and OOM kills during the run, and anything left behind (QEMU, sockets, runtime dirs).`,
		Example: `  voidbox bench load 64
  voidbox bench load 100 --memory 512M`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return usageError{fmt.Errorf("bench load N: %q is not a positive number", args[0])}
			}
			o.N, o.Command, o.Progress = n, args[1:], e.stderr
			r, err := bench.Load(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "N=%d at %d MiB, %d boot slots, %.1f GiB memory budget\n", r.N, r.MemoryMiB, r.BootSlots, float64(r.BudgetMiB)/1024)
			fmt.Fprintf(e.stdout, "succeeded %d/%d, failed %d\n", r.Succeeded, r.N, r.Failed)
			for why, k := range r.Failures {
				fmt.Fprintf(e.stdout, "  %d× %s\n", k, why)
			}
			fmt.Fprintf(e.stdout, "wall %v; ideal %v (%d × one exec %v ÷ %d slots); ratio %.2f (target ≤ 1.5)\n",
				r.Wall.Round(100*time.Millisecond), r.Ideal.Round(100*time.Millisecond), r.N, r.Single.Round(10*time.Millisecond), r.BootSlots, r.Ratio)
			fmt.Fprintf(e.stdout, "queue wait: %v\n", r.Queue)
			fmt.Fprintf(e.stdout, "boot:       %v\n", r.Boot)
			fmt.Fprintf(e.stdout, "host: lowest MemAvailable %.1f GiB, %d pages swapped out, %d OOM kills\n",
				float64(r.MinAvailableMiB)/1024, r.SwappedPages, r.OOMKills)
			if len(r.Left) > 0 {
				fmt.Fprintf(e.stdout, "left behind: %s\n", strings.Join(r.Left, ", "))
			} else {
				fmt.Fprintln(e.stdout, "left behind: nothing (no QEMU, socket, runtime dir or admission file)")
			}
			if r.Failed > 0 || len(r.Left) > 0 || r.OOMKills > 0 {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	c.Flags().IntVar(&o.MemoryMiB, "memory-mib", 256, "guest memory of each exec")
	c.Flags().IntVar(&o.BootSlots, "boot-slots", 0, "passed to each exec (default: the host's)")
	c.Flags().StringVar(&o.MemoryBudget, "memory-budget", "", "passed to each exec (default: the host's)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func newBenchNetCmd(e *env) *cobra.Command {
	var o bench.NetOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "net",
		Short: "Guest→host throughput and connection setup: voidbox's stack vs QEMU's slirp and passt",
		Long: `Boot the same guest with three network backends in turn, each round:
  voidbox: voidbox's own stack (every flow decided by the policy; here the host ports);
  slirp:   QEMU's -netdev user (libslirp), no policy;
  passt:   passt (Debian package) on a -netdev stream socket, no policy.
In each VM the guest-side client (the guest init run as a command) sends --bulk-mib to a sink
on host loopback and makes --crr connect+request+response+close round trips to an echo server,
timing itself. Print throughput and CRR p50/p95 per backend and voidbox's ratios (targets:
throughput ≥ 1.0× slirp, CRR p50 ≤ 1.0× slirp), then the boot time a network adds
(target ≤ 5% of a cold start).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
			r, err := bench.Net(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "accelerator %s, guest kernel %s, %d rounds\n", r.Accel, r.Kernel, o.Rounds)
			for _, b := range r.Backends {
				fmt.Fprintf(e.stdout, "%-8s mtu %-5d  throughput %7.1f MB/s   CRR %v\n", b.Name, b.MTU, b.Throughput, b.CRR)
			}
			fmt.Fprintf(e.stdout, "voidbox/slirp:  throughput %.2f× (target ≥ 1.0)   CRR p50 %.2f× (target ≤ 1.0)\n", r.ThroughputVsSlirp, r.CRRP50VsSlirp)
			fmt.Fprintf(e.stdout, "voidbox/passt:  throughput %.2f×                  CRR p50 %.2f×\n", r.ThroughputVsPasst, r.CRRP50VsPasst)
			fmt.Fprintf(e.stdout, "cold start without network %v\n           with network    %v\n", r.BootOff, r.BootOn)
			fmt.Fprintf(e.stdout, "boot time a network adds:  %+.1f%% at p50 (target ≤ 5%%)\n", 100*r.BootAdded)
			return nil
		},
	}
	c.Flags().IntVar(&o.Rounds, "rounds", 3, "rounds (each boots every backend once)")
	c.Flags().IntVar(&o.BulkMiB, "bulk-mib", 64, "MiB sent guest→host per round")
	c.Flags().IntVar(&o.CRR, "crr", 200, "connections per round")
	c.Flags().IntVar(&o.Boots, "boots", 5, "cold starts with and without a network")
	c.Flags().IntVar(&o.MemoryMiB, "memory-mib", 512, "guest memory")
	c.Flags().IntVar(&o.MTU, "mtu", 0, "guest MTU with voidbox's stack (default 1500)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func newBenchDensityCmd(e *env) *cobra.Command {
	var o bench.DensityOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "density",
		Short: "Host memory of idle sandboxes, cold and warm, and how many this host holds",
		Long: `Start N idle sandboxes booted cold, run "true" in each, let them idle, and read each QEMU's
RSS, PSS and anonymous memory (/proc/PID/smaps_rollup); then the same for N restored from one
template (warm starts share its guest RAM, so PSS is the fair share). The host holds MemTotal / PSS
of them, QEMU and guest counted, nothing else.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
			r, err := bench.Density(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "%d idle sandboxes of %d MiB each; host RAM %d MiB\n", r.N, r.MemoryMiB, r.HostBytes>>20)
			fmt.Fprintf(e.stdout, "cold: %v per sandbox; %d fit\n", r.Cold, r.FitCold)
			fmt.Fprintf(e.stdout, "warm: %v per sandbox; %d fit\n", r.Warm, r.FitWarm)
			return nil
		},
	}
	c.Flags().IntVar(&o.N, "n", 4, "idle sandboxes of each kind")
	c.Flags().IntVar(&o.MemoryMiB, "memory-mib", 256, "guest memory")
	c.Flags().DurationVar(&o.Settle, "settle", 10*time.Second, "idle time before measuring")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func metIf(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}
