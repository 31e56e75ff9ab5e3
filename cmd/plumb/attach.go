package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
)

const targetHelp = `TARGET is a Docker container name or id, pid:N, netns:NAME (an 'ip netns'
namespace), or a namespace path such as /var/run/netns/NAME or /proc/N/ns/net.`

func newAttachCmd(a *app) *cobra.Command {
	var o network.AttachOptions
	var ip string
	var publish []string
	c := &cobra.Command{
		Use:   "attach [OPTIONS] TARGET --net NETWORK",
		Short: "Attach a container, process or namespace to a network",
		Long:  "Attach a container, process or namespace to a network, like `docker network connect`.\n\n" + targetHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.IP, err = parseAddr("ip", ip); err != nil {
				return err
			}
			for _, p := range publish {
				spec, err := network.ParsePortSpec(p)
				if err != nil {
					return err
				}
				o.Publish = append(o.Publish, spec)
			}
			ep, already, err := a.manager().Attach(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if already {
				fmt.Fprintf(a.out, "%s is already attached to %s (%s), nothing to do\n", args[0], ep.Network, ep.IP.Addr())
				return nil
			}
			fmt.Fprintf(a.out, "%s attached to %s: %s on %s (%s, host %s)\n", args[0], ep.Network, ep.IP, ep.IfName, ep.MAC, ep.HostVeth)
			for _, p := range ep.Ports {
				fmt.Fprintf(a.out, "published %s\n", p)
			}
			return nil
		},
	}
	f := c.Flags()
	var netAlias string
	f.StringVar(&o.Network, "net", "", "network to attach to (required)")
	f.StringVar(&netAlias, "network", "", "same as --net")
	f.StringVar(&ip, "ip", "", "static IPv4 address (default: the next free one)")
	f.StringVar(&o.MAC, "mac", "", "MAC address (default: 02:42 followed by the IP)")
	f.StringVar(&o.IfName, "ifname", "", "interface name inside the target (default: eth0, or the next free ethN)")
	f.StringArrayVar(&o.Aliases, "alias", nil, "extra name for the target on this network (repeatable)")
	f.StringArrayVarP(&publish, "publish", "p", nil, "[HOSTIP:][HOSTPORT:]PORT[/tcp|udp]: publish a port on the host, Docker's -p; ranges N-M (repeatable)")
	f.StringArrayVar(&o.Links, "link", nil, "NAME[:ALIAS]: an /etc/hosts entry for another endpoint of the network, Docker's legacy --link (repeatable)")
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if netAlias != "" {
			if o.Network != "" && o.Network != netAlias {
				return usageError{fmt.Errorf("--net %q and --network %q disagree", o.Network, netAlias)}
			}
			o.Network = netAlias
		}
		if o.Network == "" {
			return usageError{errors.New(`required flag "--net" not set`)}
		}
		return nil
	}
	return c
}

func newDetachCmd(a *app) *cobra.Command {
	var netName string
	c := &cobra.Command{
		Use:   "detach [OPTIONS] TARGET",
		Short: "Detach a target from a network, or from all its networks",
		Long:  "Detach a target from one network (--net) or from every network it is on, like `docker network disconnect`.\nSafe to repeat, and works when the container or namespace is already gone.\n\n" + targetHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, err := a.manager().Detach(cmd.Context(), args[0], netName)
			for _, ep := range eps {
				fmt.Fprintf(a.out, "%s detached from %s\n", args[0], ep.Network)
			}
			if errors.Is(err, network.ErrNotAttached) {
				// Safe to repeat: nothing to do is not a failure.
				fmt.Fprintln(a.out, strings.TrimSpace(err.Error())+", nothing to do")
				return nil
			}
			return err
		},
	}
	c.Flags().StringVar(&netName, "net", "", "network to detach from (default: all)")
	c.Flags().StringVar(&netName, "network", "", "same as --net")
	return c
}
