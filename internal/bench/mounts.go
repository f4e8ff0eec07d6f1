package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

// mountThroughput boots one VM with a read-write host mount over protocol
// p and times the same operations on it and on the guest's /tmp (tmpfs):
// a large file written (and fsynced) and read back after the guest's
// caches were dropped, and many small files written and read. Times are
// the guest's own (a command's duration, fork to exit), so the channel
// to the host is not in them.
func mountThroughput(ctx context.Context, base sandbox.Config, p vmm.Protocol, o ImageOptions) (*MountResult, error) {
	dir, err := os.MkdirTemp("", "voidbox-bench-mount-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// 9p shows the guest the host's owners as they are: the sandbox user
	// can only write a directory anyone may write.
	if err := os.Chmod(dir, 0o777); err != nil {
		return nil, err
	}
	const guest = "/mnt/bench"
	cfg := base
	cfg.Name = "bench-" + string(p)
	switch p {
	case vmm.VirtioFS:
		cfg.Policy.Mounts = []policy.Mount{{Host: dir, Guest: guest, Mode: policy.ReadWrite}}
	case vmm.NineP:
		cfg.Shares = []vmm.Share{{Tag: "bench", HostPath: dir, Protocol: vmm.NineP}}
	}
	sb, err := sandbox.Boot(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	if p == vmm.NineP {
		if err := sb.Mount(ctx, "bench", guest, false); err != nil {
			return nil, err
		}
	}
	run := func(as sandbox.Identity, script string) (time.Duration, error) {
		r, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", script}, As: as})
		if err != nil {
			return 0, err
		}
		if r.ExitCode != 0 {
			return 0, fmt.Errorf("%s: exit %d: %s", script, r.ExitCode, r.Stderr)
		}
		return r.Duration, nil
	}
	dropCaches := func() error {
		_, err := run(sandbox.AsRoot, "sync; echo 3 > /proc/sys/vm/drop_caches")
		return err
	}
	large := int64(o.LargeMiB) << 20
	small := o.SmallFiles
	cases := []struct {
		name, unit string
		amount     float64
		prepare    func(d string) error
		script     func(d string) string
	}{
		{"large write", "MB/s", float64(large) / 1e6, nil,
			func(d string) string {
				return fmt.Sprintf("dd if=/dev/zero of=%s/big bs=1M count=%d conv=fsync 2>/dev/null", d, o.LargeMiB)
			}},
		{"large read", "MB/s", float64(large) / 1e6, func(string) error { return dropCaches() },
			func(d string) string { return fmt.Sprintf("cat %s/big > /dev/null", d) }},
		{"small write", "files/s", float64(small), nil,
			func(d string) string {
				// printf is a shell builtin: no process per file.
				return fmt.Sprintf("mkdir %[1]s/small && i=0 && while [ $i -lt %[2]d ]; do printf '%%4096s' '' > %[1]s/small/f$i; i=$((i+1)); done && sync", d, small)
			}},
		{"small read", "files/s", float64(small), func(string) error { return dropCaches() },
			func(d string) string { return fmt.Sprintf("cat %s/small/* > /dev/null", d) }},
	}
	res := &MountResult{Protocol: string(p)}
	if _, err := run(sandbox.AsUser, "mkdir -p /tmp/bench"); err != nil {
		return nil, err
	}
	for _, c := range cases {
		var took [2]time.Duration
		for i, d := range []string{guest, "/tmp/bench"} {
			if c.prepare != nil {
				if err := c.prepare(d); err != nil {
					return nil, err
				}
			}
			if took[i], err = run(sandbox.AsUser, c.script(d)); err != nil {
				return nil, err
			}
		}
		rate := func(t time.Duration) float64 { return c.amount / t.Seconds() }
		res.Cases = append(res.Cases, Case{Name: c.name, Unit: c.unit, Mount: rate(took[0]), Tmpfs: rate(took[1]),
			Ratio: rate(took[0]) / rate(took[1]), Took: took[0]})
		progressf(o.Progress, "%s %s: %.1f %s (tmpfs %.1f)", p, c.name, rate(took[0]), c.unit, rate(took[1]))
	}
	return res, nil
}
