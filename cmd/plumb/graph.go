package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/graph"
)

func newGraphCmd(a *app) *cobra.Command {
	var o graph.Options
	var netName string
	c := &cobra.Command{
		Use:   "graph",
		Short: "Draw the host's networks, endpoints, DNS listeners and published ports",
		Long: `Draw the host's plumb topology: each network with its bridge, subnet, gateway and
the DNS listener on it; each endpoint with its name, interface, address, MAC and
127.0.0.11 listener; the host ports published to it.

  plumb graph                          a tree for the terminal
  plumb graph --format dot | dot -Tsvg > net.svg
  plumb graph --format svg > net.svg   Graphviz's dot when installed, else built in
  plumb graph --format png > net.png`,
		Args:        cobra.NoArgs,
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := graph.CheckOptions(o); err != nil {
				return err
			}
			if o.Format == "png" && isTerminal(a.out) {
				return errors.New("--format png writes binary: send it to a file (plumb graph --format png > net.png)")
			}
			t, err := graph.Load(a.manager(), netName)
			if err != nil {
				return err
			}
			return graph.Render(a.out, t, o)
		},
	}
	c.Flags().StringVar(&netName, "net", "", "only this network")
	c.Flags().StringVar(&o.Format, "format", "text", "output format: text, dot, svg or png")
	c.Flags().StringVar(&o.Renderer, "renderer", "auto", "who draws svg and png: auto (Graphviz's dot when installed, else builtin), dot or builtin")
	return c
}
