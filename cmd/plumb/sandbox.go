package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/sandbox"
)

func newSandboxCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "sandbox",
		Short: "Manage sandboxes: holder containers whose network is ready before an app starts",
		Long: `A sandbox is Kubernetes' pause pattern: plumb starts a tiny holder container NAME
(--network=none, hostname NAME, running 'plumb hold' from an image plumb imports from
its own binary) and attaches it. Applications then run in its network namespace:

  plumb sandbox create sinatra-web --net sinatra-net
  docker run -d --network=container:sinatra-web sinatra:app

and find their address, names (/etc/hosts, resolv.conf and 127.0.0.11) and ports
ready at start; restarting them keeps all of it.`,
	}
	c.AddCommand(newSandboxCreateCmd(a), newSandboxRmCmd(a), newSandboxLsCmd(a))
	return c
}

func newSandboxCreateCmd(a *app) *cobra.Command {
	var af attachFlags
	var dry dryRun
	c := &cobra.Command{
		Use:   "create [OPTIONS] NAME --net NETWORK",
		Short: "Start a holder container NAME and attach it to a network",
		Args:  cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return netFlag(&af.o.Network, af.netAlias)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := af.options()
			if err != nil {
				return err
			}
			if dry.on {
				return dryCreate(a, &dry, cmd, args, o)
			}
			ep, already, err := sandbox.Create(cmd.Context(), a.manager(), args[0], o)
			if err != nil {
				return err
			}
			if already {
				fmt.Fprintf(a.out, "sandbox %s is already on %s (%s), nothing to do\n", args[0], ep.Network, ep.Addr())
				return nil
			}
			fmt.Fprintf(a.out, "sandbox %s on %s: %s on %s (run apps with --network=container:%s)\n", args[0], ep.Network, both(ep.IP, ep.IP6), ep.IfName, args[0])
			printPorts(a.out, ep)
			return nil
		},
	}
	af.register(c.Flags(), "sandbox")
	dry.register(c.Flags())
	return c
}

// dryCreate prints the script of sandbox create --dry-run.
func dryCreate(a *app, dry *dryRun, cmd *cobra.Command, args []string, o network.AttachOptions) error {
	m := dry.manager(a)
	ep, already, err := sandbox.DryCreate(cmd.Context(), m, args[0], o)
	if err != nil {
		return err
	}
	if already {
		m.DryRun.Comment("sandbox %s is already on %s (%s), nothing to do", args[0], ep.Network, ep.Addr())
	}
	return dry.print(a, m, cmd, args)
}

func newSandboxRmCmd(a *app) *cobra.Command {
	var dry dryRun
	c := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Detach sandboxes from their networks and remove their holders (safe to repeat)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dry.on {
				m := dry.manager(a)
				for _, name := range args {
					if err := sandbox.DryRemove(cmd.Context(), m, name); err != nil {
						return err
					}
				}
				return dry.print(a, m, cmd, args)
			}
			m := a.manager()
			var failed []string
			for _, name := range args {
				_, removed, err := sandbox.Remove(cmd.Context(), m, name)
				if err != nil {
					failed = append(failed, err.Error())
					continue
				}
				if removed {
					fmt.Fprintln(a.out, name)
				} else {
					fmt.Fprintf(a.out, "sandbox %s does not exist, nothing to do\n", name)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%s", strings.Join(failed, "; "))
			}
			return nil
		},
	}
	dry.register(c.Flags())
	return c
}

func newSandboxLsCmd(a *app) *cobra.Command {
	var format string
	var quiet bool
	c := &cobra.Command{
		Use:         "ls",
		Aliases:     []string{"list"},
		Short:       "List this state directory's sandboxes",
		Args:        cobra.NoArgs,
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			sbs, err := sandbox.List(cmd.Context(), a.manager())
			if err != nil {
				return err
			}
			if format == "json" {
				if sbs == nil {
					sbs = []*sandbox.Sandbox{}
				}
				return writeJSON(a.out, sbs)
			}
			if quiet {
				for _, sb := range sbs {
					fmt.Fprintln(a.out, sb.Name)
				}
				return nil
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "NAME\tCONTAINER ID\tSTATE\tNETWORKS")
			for _, sb := range sbs {
				state := "running"
				if !sb.Running {
					state = "stopped"
				}
				var nets []string
				for _, ep := range sb.Endpoints {
					s := ep.Network + " " + ep.Addr().String()
					if ep.Stale() {
						s += " (stale)"
					}
					nets = append(nets, s)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", sb.Name, shortID(sb.ContainerID), state, dash(strings.Join(nets, ", ")))
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&format, "format", "", "output format: table or json")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display names")
	return c
}
