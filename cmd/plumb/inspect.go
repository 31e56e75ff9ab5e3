package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/inspect"
)

func newInspectCmd(a *app) *cobra.Command {
	var format string
	return withFormat(&cobra.Command{
		Use:   "inspect TARGET [--format json]",
		Short: "Show everything about one target's networking, with the commands that show it by hand",
		Long: `Show a target's network namespace and processes, its interfaces with their host-side
veth peers and bridges, routes, neighbours, listening sockets, the resolv.conf and hosts it
sees, and what plumb made for it: endpoints, published ports, DNS names, firewall rules.
TARGET is a container, a sandbox, pid:N, netns:NAME or a namespace path, attached by plumb
or not. Each section ends with the command a person would type to see the same.`,
		Args:        cobra.ExactArgs(1),
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			r, err := inspect.Inspect(cmd.Context(), a.manager(), args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.out, r)
			}
			return inspect.Text(a.out, r, isTerminal(a.out))
		},
	}, &format)
}

func withFormat(c *cobra.Command, format *string) *cobra.Command {
	c.Flags().StringVar(format, "format", "", "output format: table or json")
	return c
}

// isTerminal reports whether w is a terminal, where dim text shows.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
