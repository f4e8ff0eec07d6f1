package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"github.com/voidbox/voidbox/internal/policy"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/vmm"
)

// BootOptions configure the boot benchmark.
type BootOptions struct {
	Iterations int // boots of each kind (default 10)
	Execs      int // exec round trips on one running sandbox (default 200)
	MemoryMiB  int // default 512
	Progress   io.Writer
}

// BootResult is what the boot benchmark measured.
type BootResult struct {
	Accel     string  `json:"accel"`
	Kernel    string  `json:"kernel"`
	Floor     Stats   `json:"floor"`      // raw QEMU, same kernel and image, trivial init, to power-off
	ColdStart Stats   `json:"cold_start"` // voidbox New + first Exec result
	RatioP50  float64 `json:"ratio_p50"`  // cold_start.p50 / floor.p50 (target ≤ 1.10)
	RatioP95  float64 `json:"ratio_p95"`
	// WarmStart is voidbox.Restore from a snapshot taken once + first
	// Exec result; WarmRatioP50 is warm_start.p50 / cold_start.p50 (target
	// ≤ 0.2).
	WarmStart    Stats   `json:"warm_start"`
	WarmRatioP50 float64 `json:"warm_ratio_p50"`
	SnapshotSave int64   `json:"snapshot_save_ms"`
	ExecRTT      Stats   `json:"exec_rtt"` // Exec of `true` on a running sandbox (target p50 ≤ 5 ms)
	// GuestSpawn is what one fork+exec+wait of /bin/true costs inside the
	// guest itself (a busybox sh loop), the floor under any exec round trip.
	GuestSpawn time.Duration `json:"guest_spawn_ns"`
	IdleRSSkB  int64         `json:"idle_rss_kb"` // QEMU resident set of one idle sandbox
	// The slim kernel's boots, when it is built (voidbox kernel build),
	// alternating with the others: its own floor (same slim kernel),
	// voidbox cold starts, cold/floor, and slim cold / generic cold
	// (target ≤ 0.6).
	SlimKernel       string  `json:"slim_kernel,omitempty"`
	SlimFloor        *Stats  `json:"slim_floor,omitempty"`
	SlimColdStart    *Stats  `json:"slim_cold_start,omitempty"`
	SlimRatioP50     float64 `json:"slim_ratio_p50,omitempty"`
	SlimVsGenericP50 float64 `json:"slim_vs_generic_p50,omitempty"`
	SlimNotBuiltHint string  `json:"slim_not_built,omitempty"`
}

// Boot runs the boot benchmark: floor and voidbox boots alternate so both
// see the same machine load.
func Boot(ctx context.Context, o BootOptions) (*BootResult, error) {
	if o.Iterations <= 0 {
		o.Iterations = 10
	}
	if o.Execs <= 0 {
		o.Execs = 200
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = 512
	}
	setup, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress, Kernel: "generic"})
	if err != nil {
		return nil, err
	}
	floorImage, cleanup, err := floorInitramfs(setup.Image.Initramfs)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// The slim kernel is measured when it is built; building it is the
	// user's call (minutes), not the benchmark's.
	var slim *voidbox.SetupResult
	slimFloorImage := ""
	if _, lerr := setupLookupSlim(); lerr == nil {
		if slim, err = voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress, Kernel: "slim"}); err != nil {
			return nil, err
		}
		var clean func()
		if slimFloorImage, clean, err = floorInitramfs(slim.Image.Initramfs); err != nil {
			return nil, err
		}
		defer clean()
	}
	cfg := voidbox.Config{Name: "bench", Image: setup.Image, Policy: voidbox.Policy{MemoryMiB: o.MemoryMiB}, Host: voidbox.HostOptions{QEMU: setup.QEMU}}
	accel, err := vmm.HostProbe{}.ChooseAccel(os.Getenv("VOIDBOX_ACCEL"))
	if err != nil {
		return nil, err
	}
	tsc, _ := vmm.HostProbe{}.TSCkHz()
	res := &BootResult{Accel: string(accel.Accel), Kernel: setup.KernelRelease}
	if slim == nil {
		res.SlimNotBuiltHint = "not built: voidbox kernel build"
	} else {
		res.SlimKernel = slim.KernelRelease
	}
	snapDir, err := os.MkdirTemp("", "voidbox-bench-snap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(snapDir)
	meta, err := voidbox.CreateSnapshot(ctx, cfg, snapDir)
	if err != nil {
		return nil, fmt.Errorf("taking the warm start's snapshot: %w", err)
	}
	res.SnapshotSave = meta.SaveMS
	var floor, cold, warm, slimFloor, slimCold []time.Duration
	for i := 0; i < o.Iterations; i++ {
		if slim != nil {
			d, err := floorBoot(ctx, vmm.Config{QEMU: setup.QEMU, Kernel: slim.Image.Kernel, Initramfs: slimFloorImage,
				Policy: policy.Sandbox{MemoryMiB: o.MemoryMiB, VCPUs: 1}, Accel: accel.Accel, TSCkHz: tsc, Name: "floor-slim"})
			if err != nil {
				return nil, fmt.Errorf("slim floor boot %d: %w", i+1, err)
			}
			slimFloor = append(slimFloor, d)
			scfg := cfg
			scfg.Image = slim.Image
			if d, err = coldStart(ctx, scfg); err != nil {
				return nil, fmt.Errorf("voidbox boot %d (slim kernel): %w", i+1, err)
			}
			slimCold = append(slimCold, d)
			progressf(o.Progress, "boot %d/%d, slim kernel: floor %v, voidbox %v", i+1, o.Iterations, round(slimFloor[i]), round(d))
		}
		d, err := floorBoot(ctx, vmm.Config{QEMU: setup.QEMU, Kernel: setup.Image.Kernel, Initramfs: floorImage,
			Policy: policy.Sandbox{MemoryMiB: o.MemoryMiB, VCPUs: 1}, Accel: accel.Accel, TSCkHz: tsc, Name: "floor"})
		if err != nil {
			return nil, fmt.Errorf("floor boot %d: %w", i+1, err)
		}
		floor = append(floor, d)
		d, err = coldStart(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("voidbox boot %d: %w", i+1, err)
		}
		cold = append(cold, d)
		w, err := startExec(ctx, func() (*voidbox.Sandbox, error) { return voidbox.Restore(ctx, cfg, snapDir) })
		if err != nil {
			return nil, fmt.Errorf("warm start %d: %w", i+1, err)
		}
		warm = append(warm, w)
		progressf(o.Progress, "boot %d/%d: floor %v, voidbox %v, warm %v", i+1, o.Iterations, round(floor[i]), round(d), round(w))
	}
	res.Floor, res.ColdStart, res.WarmStart = Summarize(floor), Summarize(cold), Summarize(warm)
	res.WarmRatioP50 = float64(res.WarmStart.P50) / float64(res.ColdStart.P50)
	res.RatioP50 = float64(res.ColdStart.P50) / float64(res.Floor.P50)
	res.RatioP95 = float64(res.ColdStart.P95) / float64(res.Floor.P95)
	if slim != nil {
		sf, sc := Summarize(slimFloor), Summarize(slimCold)
		res.SlimFloor, res.SlimColdStart = &sf, &sc
		res.SlimRatioP50 = float64(sc.P50) / float64(sf.P50)
		res.SlimVsGenericP50 = float64(sc.P50) / float64(res.ColdStart.P50)
	}
	res.ExecRTT, res.GuestSpawn, res.IdleRSSkB, err = execAndRSS(ctx, cfg, o.Execs)
	return res, err
}

// floorInitramfs is the sandbox image with /init replaced by a script that
// powers off at once: same kernel, same archive to unpack, trivial init.
func floorInitramfs(base string) (string, func(), error) {
	b, err := os.ReadFile(base)
	if err != nil {
		return "", nil, err
	}
	t := guestimage.NewTree()
	t.File("init", 0o755, []byte("#!/bin/sh\nexec /bin/busybox poweroff -f\n"))
	var overlay bytes.Buffer
	if err := t.WriteTo(context.Background(), &overlay); err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "voidbox-bench-")
	if err != nil {
		return "", nil, err
	}
	p := filepath.Join(dir, "floor.cpio.gz")
	if err := os.WriteFile(p, append(b, overlay.Bytes()...), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return p, func() { os.RemoveAll(dir) }, nil
}

func floorBoot(ctx context.Context, c vmm.Config) (time.Duration, error) {
	c.Secret = make([]byte, 32)
	rand.Read(c.Secret)
	start := time.Now()
	m, err := vmm.Start(ctx, c)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := m.Wait(wctx); err != nil {
		return 0, fmt.Errorf("%w; console: %s", err, m.ConsoleTail(5))
	}
	return time.Since(start), nil
}

func coldStart(ctx context.Context, cfg voidbox.Config) (time.Duration, error) {
	return startExec(ctx, func() (*voidbox.Sandbox, error) { return voidbox.New(ctx, cfg) })
}

// startExec times start and the first Exec("true") result.
func startExec(ctx context.Context, start func() (*voidbox.Sandbox, error)) (time.Duration, error) {
	t0 := time.Now()
	sb, err := start()
	if err != nil {
		return 0, err
	}
	defer sb.Close()
	r, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"true"}})
	if err != nil {
		return 0, err
	}
	d := time.Since(t0)
	if r.ExitCode != 0 {
		return 0, fmt.Errorf("true exited %d", r.ExitCode)
	}
	return d, nil
}

func execAndRSS(ctx context.Context, cfg voidbox.Config, n int) (Stats, time.Duration, int64, error) {
	sb, err := voidbox.New(ctx, cfg)
	if err != nil {
		return Stats{}, 0, 0, err
	}
	defer sb.Close()
	// Let boot-time work in the guest settle before timing.
	time.Sleep(2 * time.Second)
	rss := rssKB(sb.Info().QEMUPID)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		r, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"true"}})
		if err != nil {
			return Stats{}, 0, 0, err
		}
		if r.ExitCode != 0 {
			return Stats{}, 0, 0, fmt.Errorf("true exited %d", r.ExitCode)
		}
		ds = append(ds, time.Since(start))
	}
	const loops = 100
	loop := fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", loops)
	r, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"sh", "-c", loop}})
	if err != nil {
		return Stats{}, 0, 0, err
	}
	return Summarize(ds), r.Duration / loops, rss, nil
}

func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func setupLookupSlim() (string, error) {
	k, err := setup.LookupSlimKernel("")
	if err != nil {
		return "", err
	}
	return k.Vmlinux, nil
}
