package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox/internal/plural"
)

func newValidateCmd(e *env) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "validate --file SPEC",
		Short: "Check a spec without running it",
		Long:  "Parse and check a spec: every problem is reported with its file:line:col and path; the exit code is 2 if there is any.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			s, job, err := loadSpec(e, file, true)
			if err != nil {
				return err
			}
			if job == nil { // kind sandbox
				fmt.Fprintf(e.stdout, "%s: valid sandbox %q (no stages: voidbox run refuses it; voidbox exec and voidbox shell take its settings as flags)\n", file, s.Name)
				return nil
			}
			plan, _ := job.Plan()
			fmt.Fprintf(e.stdout, "%s: valid %s %q (%s)\n", file, s.Kind, s.Name, plural.Of(len(plan.Stages), "stage"))
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "spec file (YAML or JSON)")
	return c
}

func newInspectCmd(e *env) *cobra.Command {
	var file string
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect --file SPEC",
		Short: "Show the resolved plan: stages, order, parallel groups, limits",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, job, err := loadSpec(e, file, true)
			if err != nil {
				return err
			}
			if job == nil {
				return usageError{fmt.Errorf("%s: kind sandbox describes a VM, not a run: it has no plan", file)}
			}
			plan, err := job.Plan()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(plan)
			}
			return plan.WriteText(e.stdout)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "spec file (YAML or JSON)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return c
}
