package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/guestimage"
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
}

func newVersionCmd(e *env) *cobra.Command {
	var asJSON bool
	var cacheDir string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the voidbox version, protocol version and guest kernel",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
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
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "artifact cache to report on")
	return c
}
