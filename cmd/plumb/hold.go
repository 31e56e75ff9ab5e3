package main

import (
	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/sandbox"
)

// newHoldCmd is `plumb hold`, the process of a sandbox's holder container
// (Kubernetes' pause): [sandbox.Hold] keeps the container, and so its
// network namespace, alive until SIGTERM or SIGINT, then it exits 0.
// Hidden: users never run it.
func newHoldCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:         "hold",
		Short:       "Wait for SIGTERM or SIGINT (the process of a sandbox holder)",
		Hidden:      true,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"root": "no"},
		RunE: func(cmd *cobra.Command, args []string) error {
			sandbox.Hold(nil)
			return nil
		},
	}
}
