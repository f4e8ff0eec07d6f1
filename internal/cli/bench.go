package cli

import (
	"encoding/json"
	"fmt"
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
	c.AddCommand(newBenchBootCmd(e), newBenchFanOutCmd(e), newBenchLoadCmd(e))
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
				return usageError{fmt.Errorf("N: %q is not a positive number", args[0])}
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
