package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/warm"
)

// DensityOptions configure the density benchmark.
type DensityOptions struct {
	N         int           // idle sandboxes of each kind (default 4)
	MemoryMiB int           // guest memory (default 256)
	Settle    time.Duration // idle time before measuring (default 10s)
	Progress  io.Writer
}

// DensityResult is the host memory idle sandboxes take, booted cold and
// restored warm from one template, and how many would fit in this host's
// RAM at that rate.
type DensityResult struct {
	N         int   `json:"n"`
	MemoryMiB int   `json:"memory_mib"`
	HostBytes int64 `json:"host_bytes"` // MemTotal
	Cold      Mem   `json:"cold"`
	Warm      Mem   `json:"warm"`
	// FitCold and FitWarm are HostBytes / PSS: idle sandboxes of each
	// kind the host's RAM holds, QEMU and guest, nothing else counted.
	FitCold int `json:"fit_cold"`
	FitWarm int `json:"fit_warm"`
}

// Mem is the mean of the idle QEMU processes' smaps_rollup, in bytes.
// PSS shares pages the VMs map together (a template's guest RAM) among
// them; RSS counts them in full for each.
type Mem struct {
	RSS  int64 `json:"rss_bytes"`
	PSS  int64 `json:"pss_bytes"`
	Anon int64 `json:"anon_bytes"`
	// Start is the sandboxes' start to a guest that answers (boot or
	// restore), so a change that saves memory shows what it costs.
	Start Stats `json:"start"`
}

func (m Mem) String() string {
	return fmt.Sprintf("RSS %d MiB, PSS %d MiB, anonymous %d MiB (start p50 %v)", m.RSS>>20, m.PSS>>20, m.Anon>>20, round(m.Start.P50))
}

// Density runs the benchmark.
func Density(ctx context.Context, o DensityOptions) (*DensityResult, error) {
	if o.N <= 0 {
		o.N = 4
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = 256
	}
	if o.Settle <= 0 {
		o.Settle = 10 * time.Second
	}
	setup, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	h, err := benchHost(ctx, setup)
	if err != nil {
		return nil, err
	}
	h.Confine = vmm.ProbeConfinement(ctx, h.QEMU)
	cfg := h.Config("idle", policy.Sandbox{MemoryMiB: o.MemoryMiB}, setup.Image.Kernel, setup.Image.Initramfs)
	r := &DensityResult{N: o.N, MemoryMiB: o.MemoryMiB, HostBytes: memTotal()}
	if r.Cold, err = idleMem(ctx, o, func(ctx context.Context) (*sandbox.Sandbox, error) { return sandbox.Boot(ctx, cfg) }); err != nil {
		return nil, err
	}
	w, err := warm.New("", warm.Options{})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if r.Warm, err = idleMem(ctx, o, func(ctx context.Context) (*sandbox.Sandbox, error) { return w.Boot(ctx, cfg) }); err != nil {
		return nil, err
	}
	if r.Cold.PSS > 0 && r.Warm.PSS > 0 {
		r.FitCold, r.FitWarm = int(r.HostBytes/r.Cold.PSS), int(r.HostBytes/r.Warm.PSS)
	}
	return r, nil
}

// idleMem starts o.N sandboxes, runs one command in each, lets them idle
// for o.Settle and averages their QEMUs' memory.
func idleMem(ctx context.Context, o DensityOptions, start func(context.Context) (*sandbox.Sandbox, error)) (Mem, error) {
	var sbs []*sandbox.Sandbox
	var starts []time.Duration
	defer func() {
		for _, sb := range sbs {
			sb.Close()
		}
	}()
	for range o.N {
		sb, err := start(ctx)
		if err != nil {
			return Mem{}, err
		}
		sbs = append(sbs, sb)
		starts = append(starts, sb.Info().BootTime)
		if _, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"true"}}); err != nil {
			return Mem{}, err
		}
	}
	progressf(o.Progress, "%d sandboxes up, idling %v", o.N, o.Settle)
	select {
	case <-time.After(o.Settle):
	case <-ctx.Done():
		return Mem{}, context.Cause(ctx)
	}
	var sum Mem
	for _, sb := range sbs {
		m, err := smapsRollup(sb.Info().QEMUPID)
		if err != nil {
			return Mem{}, err
		}
		sum.RSS, sum.PSS, sum.Anon = sum.RSS+m.RSS, sum.PSS+m.PSS, sum.Anon+m.Anon
	}
	n := int64(len(sbs))
	return Mem{RSS: sum.RSS / n, PSS: sum.PSS / n, Anon: sum.Anon / n, Start: Summarize(starts)}, nil
}

// smapsRollup reads a process's Rss, Pss and Anonymous (proc(5)).
func smapsRollup(pid int) (Mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return Mem{}, err
	}
	var m Mem
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			m.RSS = kb << 10
		case "Pss:":
			m.PSS = kb << 10
		case "Anonymous:":
			m.Anon = kb << 10
		}
	}
	return m, nil
}

// memTotal is the host's RAM (/proc/meminfo), 0 if unknown.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
