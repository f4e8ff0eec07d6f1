package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
)

func newSetupCmd(e *env) *cobra.Command {
	var o voidbox.SetupOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "setup",
		Short: "Prepare this host: QEMU, guest kernel, guest image",
		Long: `Install QEMU if it is missing (as root on Debian), download the Debian guest kernel and
busybox, and build the guest image into the cache. Every command that boots a VM runs this
on demand; it is idempotent and prints one line when everything is already in place.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !asJSON {
				o.Progress = e.stderr
			}
			r, err := voidbox.Setup(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Fprintln(e.stdout, r.Summary)
			return nil
		},
	}
	c.Flags().StringVar(&o.CacheDir, "cache-dir", "", "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)")
	c.Flags().BoolVar(&o.Refresh, "refresh", false, "re-resolve the Debian kernel and busybox versions")
	c.Flags().StringVar(&o.Kernel, "kernel", "", "guest kernel to prepare: generic (Debian's) or slim (built here once, see voidbox kernel; boot it with VOIDBOX_KERNEL=slim); default $VOIDBOX_KERNEL, else generic")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}
