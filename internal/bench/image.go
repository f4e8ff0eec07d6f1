package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/imagedisk"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/toolbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

// ImageOptions configure the image benchmark.
type ImageOptions struct {
	Iterations int // boots of each kind (default 10)
	MemoryMiB  int // default 512
	// LargeMiB is the file of the large read/write (default 64); SmallFiles
	// how many 4 KiB files the small-file case writes and reads (default 500).
	LargeMiB, SmallFiles int
	Progress             io.Writer
}

// ImageResult is what the image benchmark measured.
type ImageResult struct {
	Accel string `json:"accel"`
	Image string `json:"image"` // reference and digest of the image timed
	// Size is the image as pulled (compressed layers, manifest, config);
	// RootFS the erofs built from it.
	Size   int64 `json:"size"`
	RootFS int64 `json:"rootfs"`
	// Pull and Convert are the first pull into an empty cache from a
	// registry on loopback, and building its root file system.
	Pull    time.Duration `json:"pull_ns"`
	Convert time.Duration `json:"convert_ns"`
	// Initramfs and OCI are boot to the first exec result, alternating.
	Initramfs Stats   `json:"initramfs"`
	OCI       Stats   `json:"oci"`
	RatioP50  float64 `json:"ratio_p50"` // oci.p50 / initramfs.p50 (target ≤ 1.15)
	RatioP95  float64 `json:"ratio_p95"`
	// Mounts are the host mount throughputs, by protocol.
	Mounts []MountResult `json:"mounts"`
}

// MountResult is one protocol's throughput next to the guest's tmpfs, in
// the same VM.
type MountResult struct {
	Protocol string `json:"protocol"`
	Cases    []Case `json:"cases"`
}

// Case is one operation on the mount and on tmpfs.
type Case struct {
	Name  string        `json:"name"`
	Unit  string        `json:"unit"` // "MB/s" or "files/s"
	Mount float64       `json:"mount"`
	Tmpfs float64       `json:"tmpfs"`
	Ratio float64       `json:"ratio"` // mount / tmpfs
	Took  time.Duration `json:"took_ns"`
}

// Image runs the benchmark: the toolbox image (built from Debian packages
// if needed) is pushed to go-containerregistry's registry on loopback and
// pulled into an empty cache; then boots from voidbox's initramfs and from
// the image alternate; then each host mount protocol is timed against the
// guest's tmpfs.
func Image(ctx context.Context, o ImageOptions) (*ImageResult, error) {
	if o.Iterations <= 0 {
		o.Iterations = 10
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = 512
	}
	if o.LargeMiB <= 0 {
		o.LargeMiB = 64
	}
	if o.SmallFiles <= 0 {
		o.SmallFiles = 500
	}
	setup, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	tb, err := toolbox.Build(ctx, toolbox.Options{Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	cache, err := os.MkdirTemp("", "voidbox-bench-cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cache)
	res := &ImageResult{}
	ref, err := pullFresh(ctx, tb.Digest, cache, res, o.Progress)
	if err != nil {
		return nil, err
	}

	host, err := benchHost(ctx, setup)
	if err != nil {
		return nil, err
	}
	host.Images = imagedisk.New(cache)
	res.Accel = string(host.Accel.Accel)
	plain := host.Config("bench", policy.Sandbox{MemoryMiB: o.MemoryMiB}, setup.Image.Kernel, setup.Image.Initramfs)
	img := plain
	img.Policy.Image = ref
	var a, b []time.Duration
	for i := 0; i < o.Iterations; i++ {
		d, err := firstExec(ctx, plain)
		if err != nil {
			return nil, fmt.Errorf("initramfs boot %d: %w", i+1, err)
		}
		a = append(a, d)
		if d, err = firstExec(ctx, img); err != nil {
			return nil, fmt.Errorf("image boot %d: %w", i+1, err)
		}
		b = append(b, d)
		progressf(o.Progress, "boot %d/%d: initramfs %v, image %v", i+1, o.Iterations, round(a[i]), round(d))
	}
	res.Initramfs, res.OCI = Summarize(a), Summarize(b)
	res.RatioP50 = float64(res.OCI.P50) / float64(res.Initramfs.P50)
	res.RatioP95 = float64(res.OCI.P95) / float64(res.Initramfs.P95)

	for _, p := range []vmm.Protocol{vmm.VirtioFS, vmm.NineP} {
		m, err := mountThroughput(ctx, plain, p, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		res.Mounts = append(res.Mounts, *m)
	}
	return res, nil
}

// pullFresh serves the cached image digest from a registry on loopback
// and pulls it into the empty cache, timing the pull and the conversion.
func pullFresh(ctx context.Context, digest, cache string, res *ImageResult, progress io.Writer) (string, error) {
	src, err := oci.Open("")
	if err != nil {
		return "", err
	}
	im, err := src.Image(digest)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	ref := ln.Addr().String() + "/toolbox:bench"
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, im, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing to the loopback registry: %w", err)
	}
	dst, err := oci.Open(cache)
	if err != nil {
		return "", err
	}
	start := time.Now()
	pulled, err := dst.Pull(ctx, ref, oci.PullOptions{})
	if err != nil {
		return "", err
	}
	res.Pull = time.Since(start)
	start = time.Now()
	rf, err := dst.BuildRootFS(ctx, pulled.Digest, oci.RootFSOptions{})
	if err != nil {
		return "", err
	}
	res.Convert = time.Since(start)
	res.Image, res.Size, res.RootFS = ref+"@"+pulled.Digest, pulled.Size, rf.Size
	progressf(progress, "pulled %s (%s) in %v, erofs %s built in %v", ref, oci.HumanBytes(pulled.Size),
		round(res.Pull), oci.HumanBytes(rf.Size), round(res.Convert))
	return ref, nil
}

// benchHost is the host's boot settings, as vmtest and the library choose
// them.
func benchHost(ctx context.Context, setup *voidbox.SetupResult) (sandbox.Host, error) {
	h := sandbox.Host{QEMU: setup.QEMU, CPUModel: os.Getenv("VOIDBOX_QEMU_CPU")}
	verdicts := ""
	if root, err := guestimage.CacheRoot(""); err == nil {
		verdicts = filepath.Join(root, "accel")
	}
	base := h.Config("kvm-smoke", policy.Sandbox{}, setup.Image.Kernel, setup.Image.Initramfs)
	var err error
	h.Accel, h.TSCkHz, err = sandbox.ChooseAccel(ctx, vmm.HostProbe{}, os.Getenv("VOIDBOX_ACCEL"), base, verdicts)
	return h, err
}

// firstExec is boot to the first Exec("true") result.
func firstExec(ctx context.Context, cfg sandbox.Config) (time.Duration, error) {
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
	d := time.Since(start)
	if r.ExitCode != 0 {
		return 0, fmt.Errorf("true exited %d: %s", r.ExitCode, r.Stderr)
	}
	return d, nil
}
