package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/codex"
	"github.com/voidbox/voidbox/internal/guestimage"
)

func newImageCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "image",
		Short: "Build and list runtime image flavours and OCI images",
		Long: `Runtime flavours are directories in the voidbox cache that agent stages share read-only into
their guest, for runtimes too big for the guest image itself. "claude" is Anthropic's claude-code
CLI with the glibc it needs.

OCI images (pull, ls, rm, inspect, prune; build toolbox) are container images kept in the
same cache, each with a read-only root file system built from its layers.`,
	}
	c.AddCommand(newImageBuildCmd(e), newImageListCmd(e))
	c.AddCommand(ociCommands(e)...)
	return c
}

func newImageBuildCmd(e *env) *cobra.Command {
	var o claudecode.Options
	var asJSON bool
	c := &cobra.Command{
		Use:   "build claude|codex|toolbox",
		Short: "Build a runtime flavour (claude: the claude-code CLI; codex: the Codex CLI) or the Debian toolbox OCI image",
		Long: `Download the claude-code binary from the npm registry (sha512-verified) and the glibc and bash
it needs from Debian, and assemble them in the cache. Idempotent: when the flavour is already
built it prints one line. The version defaults to ` + claudecode.DefaultVersion + ` or $` + claudecode.VersionEnv + `.
"codex" downloads the Codex CLI ` + codex.Version + ` (pinned, sha512-checked; a static binary, nothing else).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "toolbox" {
				return buildToolbox(cmd, e, o.CacheDir, asJSON)
			}
			if args[0] == "codex" {
				return buildCodex(cmd, e, o.CacheDir, asJSON)
			}
			if name := args[0]; name != "claude" && name != "claude-code" {
				return usageError{fmt.Errorf("unknown flavour %q: the flavours are claude and codex (or the toolbox image)", name)}
			}
			if !asJSON {
				o.Progress = e.stderr
			}
			im, err := claudecode.BuildImage(cmd.Context(), o)
			if errors.Is(err, claudecode.ErrInvalid) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, im)
			}
			fmt.Fprintln(e.stdout, im.Summary())
			return nil
		},
	}
	c.Flags().StringVar(&o.CacheDir, "cache-dir", "", "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)")
	c.Flags().StringVar(&o.Version, "version", "", "claude-code version (default "+claudecode.DefaultVersion+" or $"+claudecode.VersionEnv+")")
	c.Flags().BoolVar(&o.Refresh, "refresh", false, "re-resolve the Debian packages and rebuild if they changed")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func newImageListCmd(e *env) *cobra.Command {
	var cacheDir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the runtime flavours in the cache, with their sizes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			images, err := claudecode.ListImages(cacheDir)
			if err != nil {
				return err
			}
			if asJSON {
				if images == nil {
					images = []*claudecode.Image{}
				}
				return writeJSON(e, images)
			}
			if len(images) == 0 {
				root, _ := guestimage.CacheRoot(cacheDir)
				fmt.Fprintf(e.stdout, "no flavours in %s; build one with: voidbox image build claude\n", root)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FLAVOUR\tVERSION\tDEBIAN\tSIZE\tDIR")
			for _, im := range images {
				var debs []string
				for _, p := range im.Debian {
					debs = append(debs, p.Name+"="+p.Version)
				}
				fmt.Fprintf(tw, "claude\t%s\t%s\t%d MB\t%s\n", im.Version, strings.Join(debs, " "), (im.Size+5e5)/1e6, im.Dir)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return c
}

// buildCodex fetches the codex flavour (`voidbox image build codex`).
func buildCodex(cmd *cobra.Command, e *env, cacheDir string, asJSON bool) error {
	o := codex.Options{CacheDir: cacheDir}
	if !asJSON {
		o.Progress = e.stderr
	}
	im, err := codex.Build(cmd.Context(), o)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e, map[string]any{"dir": im.Dir, "version": im.Version, "integrity": im.Integrity})
	}
	fmt.Fprintf(e.stdout, "codex %s: %s, mounted at %s in the guest\n", im.Version, im.Dir, codex.GuestDir)
	return nil
}
