package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/netbench"
	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/netstack"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

// NetOptions configure the network benchmark.
type NetOptions struct {
	Rounds    int // rounds; each boots every backend once, in turn (default 3)
	BulkMiB   int // guest→host bytes per round (default 64)
	CRR       int // connections per round (default 200)
	Boots     int // cold starts with and without a network, alternating (default 5 each)
	MemoryMiB int // default 512
	// MTU of the guest with voidbox's stack (0: netstack.DefaultMTU).
	MTU      int
	Passt    string // the passt binary (default: passt on PATH)
	Progress io.Writer
}

// NetBackend is one backend's measurements over every round.
type NetBackend struct {
	Name string `json:"name"` // voidbox, slirp, passt
	MTU  int    `json:"mtu"`
	// ThroughputMBps is guest→host bulk throughput, one sample per round
	// (MB = 10^6 bytes); Throughput is their median.
	ThroughputMBps []float64 `json:"throughput_mbps"`
	Throughput     float64   `json:"throughput_median_mbps"`
	CRR            Stats     `json:"crr"` // every connection of every round
}

// NetResult is what the network benchmark measured.
type NetResult struct {
	Accel    string       `json:"accel"`
	Kernel   string       `json:"kernel"`
	Backends []NetBackend `json:"backends"`
	// Ratios of voidbox against each baseline (throughput: higher is
	// better, target ≥ 1.0 against slirp; CRR p50: lower is better, target
	// ≤ 1.0 against slirp).
	ThroughputVsSlirp float64 `json:"throughput_vs_slirp"`
	ThroughputVsPasst float64 `json:"throughput_vs_passt"`
	CRRP50VsSlirp     float64 `json:"crr_p50_vs_slirp"`
	CRRP50VsPasst     float64 `json:"crr_p50_vs_passt"`
	// Cold starts (boot to the first exec's result) without and with a
	// network; BootAdded is (with − without) / without at p50 (target ≤ 5%).
	BootOff   Stats   `json:"boot_without_network"`
	BootOn    Stats   `json:"boot_with_network"`
	BootAdded float64 `json:"boot_added"`
}

// Net runs the network benchmark: the same guest image and client against
// voidbox's stack, QEMU's libslirp and passt, alternating within each round
// so that all three see the same machine load. The guest reaches a sink and
// an echo server on host loopback through the gateway address, which all
// three map to the host (voidbox through host_ports).
func Net(ctx context.Context, o NetOptions) (*NetResult, error) {
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	if o.BulkMiB <= 0 {
		o.BulkMiB = 64
	}
	if o.CRR <= 0 {
		o.CRR = 200
	}
	if o.Boots <= 0 {
		o.Boots = 5
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = 512
	}
	if o.MTU == 0 {
		o.MTU = netstack.DefaultMTU
	}
	passt := o.Passt
	if passt == "" {
		p, err := exec.LookPath("passt")
		if err != nil {
			return nil, fmt.Errorf("passt, the third baseline, is not installed (Debian: apt-get install passt): %w", err)
		}
		passt = p
	}
	setup, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	accel, err := vmm.HostProbe{}.ChooseAccel(os.Getenv("VOIDBOX_ACCEL"))
	if err != nil {
		return nil, err
	}
	tsc, _ := vmm.HostProbe{}.TSCkHz()
	host := sandbox.Host{QEMU: setup.QEMU, Accel: accel, TSCkHz: tsc, CPUModel: os.Getenv("VOIDBOX_QEMU_CPU")}
	srv, err := netbench.Start()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	sink := fmt.Sprintf("10.0.2.2:%d", netbench.Port(srv.Sink))
	echo := fmt.Sprintf("10.0.2.2:%d", netbench.Port(srv.Echo))

	base := policy.Sandbox{MemoryMiB: o.MemoryMiB, Network: *netpolicy.Public()}
	ours := base.Clone()
	ours.Network.HostPorts = []uint16{uint16(netbench.Port(srv.Sink)), uint16(netbench.Port(srv.Echo))}
	// The default rate limit (100 new flows a second) is the policy
	// working, not its cost: CRR measures the stack, so it is lifted.
	ours.Network.Limits.ConnsPerSecond = 1_000_000
	backends := []struct {
		name string
		mtu  int
		cfg  func(dir string) (sandbox.Config, func(), error)
	}{
		{"voidbox", o.MTU, func(string) (sandbox.Config, func(), error) {
			c := host.Config("bench-net", ours, setup.Image.Kernel, setup.Image.Initramfs)
			c.MTU = o.MTU
			return c, func() {}, nil
		}},
		{"slirp", 1500, func(string) (sandbox.Config, func(), error) { // QEMU's user netdev has no MTU setting
			c := host.Config("bench-slirp", base, setup.Image.Kernel, setup.Image.Initramfs)
			c.NetBaseline, c.MTU = vmm.BaselineSlirp, 1500
			return c, func() {}, nil
		}},
		{"passt", 65520, func(dir string) (sandbox.Config, func(), error) {
			sock, stop, err := startPasst(ctx, passt, dir)
			if err != nil {
				return sandbox.Config{}, nil, err
			}
			c := host.Config("bench-passt", base, setup.Image.Kernel, setup.Image.Initramfs)
			c.NetBaseline, c.MTU = sock, 65520 // passt's own default
			return c, stop, nil
		}},
	}
	res := &NetResult{Accel: string(accel.Accel), Kernel: setup.KernelRelease}
	crr := make([][]time.Duration, len(backends))
	res.Backends = make([]NetBackend, len(backends))
	for i, b := range backends {
		res.Backends[i] = NetBackend{Name: b.name, MTU: b.mtu}
	}
	for n := 1; n <= o.Rounds; n++ {
		for i, b := range backends {
			dir, err := os.MkdirTemp("", "voidbox-bench-net-")
			if err != nil {
				return nil, err
			}
			cfg, stop, err := b.cfg(dir)
			if err == nil {
				var r netbench.Result
				r, err = netRound(ctx, cfg, sink, echo, int64(o.BulkMiB)<<20, o.CRR)
				stop()
				if err == nil {
					mbps := float64(r.BulkBytes) / r.Bulk.Seconds() / 1e6
					res.Backends[i].ThroughputMBps = append(res.Backends[i].ThroughputMBps, mbps)
					crr[i] = append(crr[i], r.CRR...)
					progressf(o.Progress, "round %d/%d %-7s: %.1f MB/s, CRR p50 %v", n, o.Rounds, b.name, mbps, Summarize(r.CRR).P50.Round(time.Microsecond))
				}
			}
			os.RemoveAll(dir)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", n, b.name, err)
			}
		}
	}
	for i := range res.Backends {
		res.Backends[i].Throughput = median(res.Backends[i].ThroughputMBps)
		res.Backends[i].CRR = Summarize(crr[i])
	}
	v, s, p := res.Backends[0], res.Backends[1], res.Backends[2]
	res.ThroughputVsSlirp, res.ThroughputVsPasst = v.Throughput/s.Throughput, v.Throughput/p.Throughput
	res.CRRP50VsSlirp = float64(v.CRR.P50) / float64(s.CRR.P50)
	res.CRRP50VsPasst = float64(v.CRR.P50) / float64(p.CRR.P50)

	var off, on []time.Duration
	noNet := policy.Sandbox{MemoryMiB: o.MemoryMiB}
	for i := 0; i < o.Boots; i++ {
		d, err := coldBoot(ctx, host.Config("bench-nonet", noNet, setup.Image.Kernel, setup.Image.Initramfs))
		if err != nil {
			return nil, fmt.Errorf("boot without network: %w", err)
		}
		off = append(off, d)
		c := host.Config("bench-net", ours, setup.Image.Kernel, setup.Image.Initramfs)
		c.MTU = o.MTU
		if d, err = coldBoot(ctx, c); err != nil {
			return nil, fmt.Errorf("boot with network: %w", err)
		}
		on = append(on, d)
		progressf(o.Progress, "boot %d/%d: without network %v, with %v", i+1, o.Boots, round(off[i]), round(d))
	}
	res.BootOff, res.BootOn = Summarize(off), Summarize(on)
	res.BootAdded = float64(res.BootOn.P50-res.BootOff.P50) / float64(res.BootOff.P50)
	return res, nil
}

// netRound boots cfg, runs the guest client's bulk and CRR measurements
// and closes the VM.
func netRound(ctx context.Context, cfg sandbox.Config, sink, echo string, bulkBytes int64, crr int) (netbench.Result, error) {
	sb, err := sandbox.Boot(ctx, cfg)
	if err != nil {
		return netbench.Result{}, err
	}
	defer sb.Close()
	var out string
	for i, argv := range [][]string{
		{"/init", netbench.Command, "crr", echo, "20"}, // warm-up (ARP, first connections, page cache): not counted
		{"/init", netbench.Command, "bulk", sink, strconv.FormatInt(bulkBytes, 10)},
		{"/init", netbench.Command, "crr", echo, strconv.Itoa(crr)},
	} {
		r, err := sb.Exec(ctx, sandbox.Cmd{Args: argv, Timeout: 5 * time.Minute})
		if err != nil {
			return netbench.Result{}, err
		}
		if r.ExitCode != 0 {
			return netbench.Result{}, fmt.Errorf("%v: exit %d: %s", argv[1:], r.ExitCode, r.Stderr)
		}
		if i > 0 {
			out += string(r.Stdout)
		}
	}
	return netbench.Parse(out)
}

// startPasst runs passt for one VM (-1: it exits when QEMU disconnects)
// on a socket in dir, with the addressing voidbox guests use; the gateway
// address maps to the host, as with slirp.
func startPasst(ctx context.Context, bin, dir string) (string, func(), error) {
	sock := filepath.Join(dir, "passt.sock")
	if os.Geteuid() == 0 {
		// Started as root, passt drops to nobody before it binds its
		// socket: give it the directory.
		u, err := user.Lookup("nobody")
		if err != nil {
			return "", nil, fmt.Errorf("passt runs as nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", nil, err
		}
	}
	cmd := exec.CommandContext(ctx, bin, "--foreground", "--one-off", "--quiet", "--socket", sock,
		"--address", "10.0.2.15", "--netmask", "24", "--gateway", "10.0.2.2", "--mtu", "65520", "--no-dhcp-dns")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting passt: %w", err)
	}
	stop := func() {
		cmd.Process.Kill() // ours, by PID; with --one-off it has usually exited already
		cmd.Wait()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return sock, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("passt did not create %s", sock)
		}
	}
}

// coldBoot is boot to the first exec's result.
func coldBoot(ctx context.Context, cfg sandbox.Config) (time.Duration, error) {
	start := time.Now()
	sb, err := sandbox.Boot(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer sb.Close()
	r, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"true"}})
	if err != nil {
		return 0, err
	}
	if r.ExitCode != 0 {
		return 0, fmt.Errorf("true exited %d", r.ExitCode)
	}
	return time.Since(start), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
