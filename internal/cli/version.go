package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/codex"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/slimkernel"
	"github.com/voidbox/voidbox/internal/wire"
)

// versionInfo is `voidbox version --json`.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Go       string `json:"go"`
	Protocol int    `json:"protocol"`
	// Guest is what the cache holds for the guest (the kernel set-up
	// resolved and recorded), absent before the first set-up.
	Guest      *guestimage.CacheState `json:"guest,omitempty"`
	GuestError string                 `json:"guest_error,omitempty"`
	// SlimKernel is the slim guest kernel built in the cache (voidbox
	// kernel build), with its vmlinux's recorded sha256; absent when none.
	SlimKernel *slimkernel.Kernel `json:"slim_kernel,omitempty"`
	// Artifacts are the recorded digests of every guest artifact set-up
	// made for this host: the kernel package and its extracted files,
	// busybox, the initramfs of command and agent stages, and each built
	// claude-code flavour's files.
	Artifacts      []guestimage.Digest `json:"artifacts,omitempty"`
	ArtifactsError string              `json:"artifacts_error,omitempty"`
}

func newVersionCmd(e *env) *cobra.Command {
	var asJSON bool
	var cacheDir string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the voidbox version, protocol version and guest kernel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Version: "(devel)", Go: runtime.Version(), Protocol: wire.Version}
			if bi, ok := debug.ReadBuildInfo(); ok {
				v.Version = bi.Main.Version
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v.Revision = s.Value
					}
				}
			}
			if st, err := guestimage.Inspect(cacheDir); err != nil {
				v.GuestError = err.Error()
			} else {
				v.Guest = &st
				v.Artifacts, err = guestDigests(cmd.Context(), cacheDir, st.Root)
				if err != nil {
					v.ArtifactsError = err.Error()
				}
			}
			if root, err := guestimage.CacheRoot(cacheDir); err == nil {
				v.SlimKernel, _ = slimkernel.Lookup(root) // not built: absent
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			rev := ""
			if len(v.Revision) >= 12 {
				rev = " " + v.Revision[:12]
			}
			fmt.Fprintf(e.stdout, "voidbox %s%s (protocol %d, %s)\n", v.Version, rev, v.Protocol, v.Go)
			if v.Guest != nil {
				fmt.Fprintf(e.stdout, "guest: %s\n", v.Guest.Summary())
			} else {
				fmt.Fprintf(e.stdout, "guest: %s (run voidbox setup)\n", v.GuestError)
			}
			if k := v.SlimKernel; k != nil {
				fmt.Fprintf(e.stdout, "slim kernel: %s (%s, VOIDBOX_KERNEL=slim boots it)\n", k.ID(), k.Source)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "artifact cache to report on")
	return c
}

// guestDigests lists the recorded digests of what a boot would use now
// (setup.Lookup: it builds nothing), of every claude-code flavour and of
// the codex flavour in the cache rooted at root.
func guestDigests(ctx context.Context, cacheDir, root string) ([]guestimage.Digest, error) {
	images := map[string]string{}
	r, err := setup.Lookup(ctx, setup.Options{CacheDir: cacheDir, Agent: true})
	if err != nil {
		// Without the agent's binary the command stages' image may still be there.
		if r, err = setup.Lookup(ctx, setup.Options{CacheDir: cacheDir}); err != nil {
			return nil, fmt.Errorf("looking up the guest images: %w", err)
		}
	}
	images["initramfs"] = r.Initramfs
	if r.AgentInitramfs != "" {
		images["agent-initramfs"] = r.AgentInitramfs
	}
	out, err := guestimage.Digests(cacheDir, images)
	if err != nil {
		return nil, err
	}
	flavours, err := claudecode.ListImages(cacheDir)
	if err != nil {
		return out, fmt.Errorf("listing claude-code flavours: %w", err)
	}
	for _, im := range flavours {
		dir, err := filepath.Rel(root, im.Dir)
		if err != nil {
			return out, err
		}
		// The npm tarball's digest, which the build verified; flavours built
		// before file records existed have only this.
		out = append(out, guestimage.Digest{Kind: "claude-code-package", Path: filepath.ToSlash(dir), Integrity: im.Integrity})
		for _, rel := range slices.Sorted(maps.Keys(im.Records)) {
			rec := im.Records[rel]
			out = append(out, guestimage.Digest{Kind: "claude-code", Path: filepath.ToSlash(filepath.Join(dir, rel)), Size: rec.Size, SHA256: rec.SHA256})
		}
	}
	if im, err := codex.Find(cacheDir); err == nil {
		dir, err := filepath.Rel(root, im.Dir)
		if err != nil {
			return out, err
		}
		out = append(out, guestimage.Digest{Kind: "codex-package", Path: filepath.ToSlash(dir), Integrity: im.Integrity})
		for _, d := range im.Digests() {
			out = append(out, guestimage.Digest{Kind: "codex", Path: filepath.ToSlash(filepath.Join(dir, d.Path)), Size: d.Size, SHA256: d.SHA256})
		}
	}
	return out, nil
}
