package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/bench"
)

func newBenchCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure voidbox against baselines taken in the same run",
	}
	c.AddCommand(newBenchBootCmd(e), newBenchFanOutCmd(e), newBenchNetCmd(e))
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
  voidbox: voidbox.New and the first Exec result.
Print p50/p95 of each and their ratio (target ≤ 1.10), then the round trip of Exec("true")
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
	var asJSON bool
	c := &cobra.Command{
		Use:   "fanout",
		Short: "Wall time of a fan-out of N command stages vs one stage",
		Long: `Alternate a one-stage pipeline and a fan-out of N stages (each runs "true" in its own VM)
and compare the fan-out's p50 with the budget ceil(N / parallel width) × single p50 + 20%,
where the width is the number of cores, or max_parallel if smaller.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
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
	return c
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
