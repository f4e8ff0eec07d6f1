package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/slimkernel"
)

func newKernelCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "kernel",
		Short: "Build or show the slim guest kernel",
		Long: `The slim guest kernel is built on this host from Debian's linux-source-6.1: tinyconfig plus
the options a voidbox guest uses (virtio over MMIO, 9p, virtiofs, overlayfs, erofs, ext4, the
network, cgroups, seccomp), all built in, no modules. It boots in about half the time of
Debian's generic kernel under TCG. Boot it with VOIDBOX_KERNEL=slim (or setup --kernel slim);
Debian's generic kernel stays the default.`,
	}
	c.AddCommand(newKernelBuildCmd(e), newKernelShowCmd(e))
	return c
}

func newKernelBuildCmd(e *env) *cobra.Command {
	var o setup.SlimOptions
	c := &cobra.Command{
		Use:   "build",
		Short: "Build the slim guest kernel into the cache (once per source version)",
		Long: `Install the build's Debian packages when missing (as root), unpack linux-source-6.1, configure
it (every option of the slim config is checked to be kept), compile vmlinux, and record it in the
cache by the digest of its inputs. A build of the same inputs is reused; --force builds again.
About five minutes on two cores.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = e.stderr
			k, err := setup.EnsureSlimKernel(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "slim kernel %s: %s\n", k.Release, k.Vmlinux)
			return nil
		},
	}
	c.Flags().StringVar(&o.CacheDir, "cache-dir", "", "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)")
	c.Flags().IntVarP(&o.Jobs, "jobs", "j", 0, "parallel compile jobs (default: every CPU)")
	c.Flags().BoolVar(&o.Force, "force", false, "build again even when the cache has this build")
	return c
}

func newKernelShowCmd(e *env) *cobra.Command {
	var cacheDir string
	var asJSON, config bool
	c := &cobra.Command{
		Use:   "show",
		Short: "Show the built slim kernel (or its full config with --config)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config {
				fmt.Fprint(e.stdout, slimkernel.Fragment)
				return nil
			}
			root, err := guestimage.CacheRoot(cacheDir)
			if err != nil {
				return err
			}
			k, err := slimkernel.Lookup(root)
			if err != nil {
				return err
			}
			if err := k.Verify(); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					*slimkernel.Kernel
					Vmlinux string `json:"vmlinux"`
				}{k, k.Vmlinux})
			}
			fmt.Fprintf(e.stdout, "slim kernel %s\n  vmlinux  %s (%d bytes, sha256 %s)\n  source   %s\n  compiler %s\n  built    %s in %.0f s\n  key      %s\n",
				k.Release, k.Vmlinux, k.VmlinuxSize, k.VmlinuxSHA256, k.Source, k.Compiler, k.BuiltAt.Format("2006-01-02 15:04:05Z"), k.BuildSeconds, k.Key)
			return nil
		},
	}
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the record as JSON")
	c.Flags().BoolVar(&config, "config", false, "print the config fragment applied on top of tinyconfig")
	return c
}
