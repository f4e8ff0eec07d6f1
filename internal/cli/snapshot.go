package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/bytesize"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/snapshot"
)

func newSnapshotCmd(e *env) *cobra.Command {
	var cacheDir string
	c := &cobra.Command{
		Use:   "snapshot",
		Short: "Create, list, inspect and remove VM snapshots",
		Long: `A snapshot is a sandbox saved right after its guest init's handshake, before any command,
file or env reaches it: its memory (a sparse file each restore maps copy-on-write) and its
device state, in a 0700 directory of 0600 files. Restoring it starts a sandbox in a fraction
of a boot; every restored copy gets a fresh control secret, reseeded RNG, the host's clock
and a hostname of its own. A snapshot is refused by a sandbox of another kernel, image,
QEMU, memory size, vCPU count or guest policy, with the reason.

Runs take such snapshots by themselves (warm starts, run --no-warm to turn off); these
commands keep named ones in <cache>/snapshots.`,
	}
	c.PersistentFlags().StringVar(&cacheDir, "cache-dir", "", "artifact cache (default $VOIDBOX_CACHE_DIR or $XDG_CACHE_HOME/voidbox)")
	store := func() (snapshot.Store, error) {
		root, err := guestimage.CacheRoot(cacheDir)
		if err != nil {
			return snapshot.Store{}, err
		}
		return snapshot.Store{Dir: filepath.Join(root, "snapshots")}, nil
	}
	c.AddCommand(newSnapshotCreateCmd(e, store), newSnapshotListCmd(e, store), newSnapshotRmCmd(e, store), newSnapshotInspectCmd(e, store))
	return c
}

type storeFunc func() (snapshot.Store, error)

func newSnapshotCreateCmd(e *env, store storeFunc) *cobra.Command {
	var sf sandboxFlags
	c := &cobra.Command{
		Use:     "create NAME",
		Short:   "Boot a sandbox and save it right after its handshake",
		Example: "  voidbox snapshot create small --memory 256M --allow sh,ls",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := sf.config(args[0])
			if err != nil {
				return err
			}
			st, err := store()
			if err != nil {
				return err
			}
			dir, err := st.Create(args[0])
			if err != nil {
				return usageError{err}
			}
			start := time.Now()
			meta, err := voidbox.CreateSnapshot(cmd.Context(), cfg, dir)
			if err != nil {
				os.RemoveAll(dir)
				return err
			}
			meta.Name = args[0]
			if err := snapshot.Write(dir, meta); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "snapshot %s: %s memory, %s state, saved in %d ms (%v in all) at %s\n", args[0],
				bytesize.Format(meta.MemoryBytes), bytesize.Format(meta.StateBytes), meta.SaveMS, time.Since(start).Round(10*time.Millisecond), dir)
			return nil
		},
	}
	sf.register(c.Flags())
	return c
}

func newSnapshotListCmd(e *env, store storeFunc) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the named snapshots",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store()
			if err != nil {
				return err
			}
			list, err := st.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMEMORY\tVCPUS\tON DISK\tCREATED")
			for _, s := range list {
				if s.Err != nil {
					fmt.Fprintf(tw, "%s\t-\t-\t-\t%v\n", s.Name, s.Err)
					continue
				}
				m := s.Meta
				fmt.Fprintf(tw, "%s\t%d MiB\t%d\t%s\t%s\n", s.Name, m.Machine.MemoryMiB, m.Machine.VCPUs,
					bytesize.Format(m.MemoryBytes+m.StateBytes), m.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
}

func newSnapshotRmCmd(e *env, store storeFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove named snapshots",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store()
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range args {
				if err := st.Remove(n); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(e.stdout, "removed %s\n", n)
			}
			return errors.Join(errs...)
		},
	}
}

func newSnapshotInspectCmd(e *env, store storeFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME|PATH",
		Short: "Print what a snapshot was taken of, as JSON (its secret left out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store()
			if err != nil {
				return err
			}
			dir, err := st.Resolve(args[0])
			if err != nil {
				return err
			}
			m, err := snapshot.Read(dir)
			if err != nil {
				return err
			}
			m.Secret = ""
			return writeJSON(e, struct {
				Dir string `json:"dir"`
				snapshot.Meta
			}{dir, m})
		},
	}
}
