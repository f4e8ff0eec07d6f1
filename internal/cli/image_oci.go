package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/voidbox/voidbox/internal/bytesize"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/rootfs"
	"github.com/voidbox/voidbox/internal/toolbox"
)

// ociCommands are the OCI image subcommands of `voidbox image`.
func ociCommands(e *env) []*cobra.Command {
	return []*cobra.Command{newImagePullCmd(e), newImageLsCmd(e), newImageRmCmd(e), newImageInspectCmd(e), newImagePruneCmd(e)}
}

const cacheDirUsage = "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)"

// ociErr maps the oci package's bad-argument errors to exit code 2.
func ociErr(err error) error {
	if errors.Is(err, oci.ErrInvalid) {
		return usageError{err}
	}
	return err
}

func newImagePullCmd(e *env) *cobra.Command {
	var cacheDir, format string
	var asJSON bool
	c := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an OCI image (linux/amd64) into the cache and build its root file system",
		Long: `Pull an image by tag or digest. Credentials come from the docker config
($DOCKER_CONFIG/config.json or ~/.docker/config.json, with its credential helpers);
registries without a match are tried anonymously. Plain HTTP is used only for
localhost and 127.0.0.1 registries. Every blob is checked against its digest
before it enters the cache. The read-only root file system (erofs by default)
is built once per image digest; --rootfs none skips it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f rootfs.Format
			if format != "none" {
				var err error
				if f, err = rootfs.ParseFormat(format); err != nil {
					return usageError{fmt.Errorf("--rootfs: %w", err)}
				}
				if err := rootfs.CheckTools(f); err != nil {
					return err
				}
			}
			s, err := oci.Open(cacheDir)
			if err != nil {
				return err
			}
			im, err := s.Pull(cmd.Context(), args[0], oci.PullOptions{Progress: e.stderr})
			if err != nil {
				return ociErr(err)
			}
			if format != "none" {
				if _, err := s.BuildRootFS(cmd.Context(), im.Digest, oci.RootFSOptions{Format: f, Progress: e.stderr}); err != nil {
					return err
				}
				if im, err = s.Inspect(im.Digest); err != nil {
					return err
				}
			}
			if asJSON {
				return writeJSON(e, im)
			}
			fmt.Fprintln(e.stdout, im.Summary())
			return nil
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", cacheDirUsage)
	c.Flags().StringVar(&format, "rootfs", "erofs", "root file system to build: erofs, ext4 or none")
	c.Flags().BoolVar(&asJSON, "json", false, "print the image as JSON")
	return c
}

func newImageLsCmd(e *env) *cobra.Command {
	var cacheDir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "ls",
		Short: "List the OCI images in the cache, most recently used first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := oci.Open(cacheDir)
			if err != nil {
				return err
			}
			images, err := s.List()
			if err != nil {
				return err
			}
			if asJSON {
				if images == nil {
					images = []*oci.Image{}
				}
				return writeJSON(e, images)
			}
			if len(images) == 0 {
				fmt.Fprintf(e.stdout, "no OCI images in %s; pull one with: voidbox image pull REF\n", s.Dir())
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tDIGEST\tSIZE\tROOTFS\tLAST USED")
			for _, im := range images {
				var built []string
				for f, r := range im.RootFS {
					built = append(built, f+" "+oci.HumanBytes(r.Size))
				}
				refs := im.Refs
				if len(refs) == 0 {
					refs = []string{"<none>"}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strings.Join(refs, ","), oci.ShortDigest(im.Digest),
					oci.HumanBytes(im.Size), strings.Join(built, ","), ago(im.LastUsed))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", cacheDirUsage)
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return c
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func newImageRmCmd(e *env) *cobra.Command {
	var cacheDir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "rm REF|DIGEST...",
		Short: "Remove image references; an image goes with its last reference, unless a VM uses it",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := oci.Open(cacheDir)
			if err != nil {
				return err
			}
			var all []string
			var errs []error
			for _, a := range args {
				removed, err := s.Remove(cmd.Context(), a)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", a, err))
					continue
				}
				all = append(all, removed...)
				if !asJSON {
					for _, r := range removed {
						fmt.Fprintln(e.stdout, "removed", r)
					}
				}
			}
			if asJSON {
				if all == nil {
					all = []string{}
				}
				if err := writeJSON(e, map[string]any{"removed": all}); err != nil {
					return err
				}
			}
			return ociErr(errors.Join(errs...))
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", cacheDirUsage)
	c.Flags().BoolVar(&asJSON, "json", false, "print what was removed as JSON")
	return c
}

func newImageInspectCmd(e *env) *cobra.Command {
	var cacheDir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect REF|DIGEST",
		Short: "Show a cached image: digest, size, layers and its config's Env, WorkingDir, User, Entrypoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := oci.Open(cacheDir)
			if err != nil {
				return err
			}
			im, err := s.Inspect(args[0])
			if err != nil {
				return ociErr(err)
			}
			if asJSON {
				return writeJSON(e, im)
			}
			w := e.stdout
			fmt.Fprintf(w, "Refs:        %s\nDigest:      %s\nPlatform:    %s\nSize:        %s\n",
				strings.Join(im.Refs, ", "), im.Digest, im.Platform, oci.HumanBytes(im.Size))
			if im.Index != "" {
				fmt.Fprintf(w, "Index:       %s\n", im.Index)
			}
			fmt.Fprintf(w, "User:        %s\nWorkingDir:  %s\nEntrypoint:  %q\nCmd:         %q\nEnv:\n",
				im.User, im.WorkingDir, im.Entrypoint, im.Cmd)
			for _, v := range im.Env {
				fmt.Fprintf(w, "  %s\n", v)
			}
			fmt.Fprintf(w, "Layers:\n")
			for _, l := range im.Layers {
				fmt.Fprintf(w, "  %s  %s\n", l.Digest, oci.HumanBytes(l.Size))
			}
			for f, r := range im.RootFS {
				fmt.Fprintf(w, "RootFS:      %s %s (%s)\n", f, r.Path, oci.HumanBytes(r.Size))
			}
			return nil
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", cacheDirUsage)
	c.Flags().BoolVar(&asJSON, "json", false, "print the image as JSON")
	return c
}

func newImagePruneCmd(e *env) *cobra.Command {
	var cacheDir, maxSize string
	var asJSON bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "Remove least-recently-used OCI images until the cache is under --max-size",
		Long: `Remove images in least-recently-used order (a pull, a boot or a build counts
as a use) until the OCI cache holds at most --max-size, skipping images a running VM
uses; then remove blobs no image needs and leftovers of interrupted pulls.
--max-size 0 removes every image not in use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			limit, err := bytesize.Parse(maxSize)
			if err != nil || limit < 0 {
				return usageError{fmt.Errorf("--max-size: %q is not a size", maxSize)}
			}
			s, err := oci.Open(cacheDir)
			if err != nil {
				return err
			}
			r, err := s.Prune(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e, r)
			}
			for _, d := range r.Removed {
				fmt.Fprintln(e.stdout, "removed", d)
			}
			for _, d := range r.InUse {
				fmt.Fprintln(e.stdout, "kept (in use)", d)
			}
			fmt.Fprintf(e.stdout, "freed %s; the OCI cache holds %s\n", oci.HumanBytes(r.Freed), oci.HumanBytes(r.Size))
			return nil
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", cacheDirUsage)
	c.Flags().StringVar(&maxSize, "max-size", "10G", "keep at most this much (e.g. 500M, 10G)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// buildToolbox is `voidbox image build toolbox`.
func buildToolbox(cmd *cobra.Command, e *env, cacheDir string, asJSON bool) error {
	im, err := toolbox.Build(cmd.Context(), toolbox.Options{CacheDir: cacheDir, Progress: e.stderr})
	if err != nil {
		return ociErr(err)
	}
	// As pull does: the root file system is ready before the first boot.
	s, err := oci.Open(cacheDir)
	if err != nil {
		return err
	}
	if _, err := s.BuildRootFS(cmd.Context(), im.Digest, oci.RootFSOptions{Progress: e.stderr}); err != nil {
		return err
	}
	if im, err = s.Inspect(im.Digest); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e, im)
	}
	fmt.Fprintln(e.stdout, im.Summary())
	return nil
}
