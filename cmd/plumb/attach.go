package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/plumbnet/plumb/network"
)

const targetHelp = `TARGET is a Docker container name or id, pid:N, netns:NAME (an 'ip netns'
namespace), or a namespace path such as /var/run/netns/NAME or /proc/N/ns/net.`

// attachFlags are the flags attach and sandbox create share.
type attachFlags struct {
	o        network.AttachOptions
	ip, ip6  string
	netAlias string
	publish  []string
}

// register adds the shared flags to f; what names the target in the help.
func (af *attachFlags) register(f *pflag.FlagSet, what string) {
	f.StringVar(&af.o.Network, "net", "", "network to attach to (required)")
	f.StringVar(&af.netAlias, "network", "", "same as --net")
	f.StringVar(&af.ip, "ip", "", "static IPv4 address (default: the next free one)")
	f.StringVar(&af.ip6, "ip6", "", "static IPv6 address, on a network with IPv6 (default: the next free one)")
	f.StringVar(&af.o.MAC, "mac", "", "MAC address (default: 02:42 followed by the IP)")
	f.StringArrayVar(&af.o.Aliases, "alias", nil, "extra name for the "+what+" on this network (repeatable)")
	f.StringArrayVarP(&af.publish, "publish", "p", nil, "[HOSTIP:][HOSTPORT:]PORT[/tcp|udp]: publish a port of the "+what+" on the host, Docker's -p; ranges N-M, a host range onto one port meaning its first free port (repeatable)")
	f.StringArrayVar(&af.o.Links, "link", nil, "NAME[:ALIAS]: an /etc/hosts entry for another endpoint of the network, Docker's legacy --link (repeatable)")
}

// options parses --ip and -p into the attach options.
func (af *attachFlags) options() (network.AttachOptions, error) {
	o := af.o
	var err error
	if o.IP, err = parseAddr("ip", af.ip); err != nil {
		return o, err
	}
	if af.ip6 != "" {
		if o.IP6, err = parseAddrAny("ip6", af.ip6); err != nil || !o.IP6.Is6() {
			return o, fmt.Errorf("invalid --ip6 %q: want an IPv6 address such as fd00:1::10", af.ip6)
		}
	}
	o.Publish = nil
	for _, p := range af.publish {
		spec, err := network.ParsePortSpec(p)
		if err != nil {
			return o, err
		}
		o.Publish = append(o.Publish, spec)
	}
	return o, nil
}

// printPorts writes one line per published port of ep.
func printPorts(w io.Writer, ep *network.Endpoint) {
	for _, p := range ep.Ports {
		fmt.Fprintf(w, "published %s\n", p)
	}
}

// netFlag merges --network into --net and requires one of them.
func netFlag(net *string, alias string) error {
	if alias != "" {
		if *net != "" && *net != alias {
			return usageError{fmt.Errorf("--net %q and --network %q disagree", *net, alias)}
		}
		*net = alias
	}
	if *net == "" {
		return usageError{errors.New(`required flag "--net" not set`)}
	}
	return nil
}

func newAttachCmd(a *app) *cobra.Command {
	var af attachFlags
	var dry dryRun
	c := &cobra.Command{
		Use:   "attach [OPTIONS] TARGET --net NETWORK",
		Short: "Attach a container, process or namespace to a network",
		Long:  "Attach a container, process or namespace to a network, like `docker network connect`.\n\n" + targetHelp,
		Args:  cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return netFlag(&af.o.Network, af.netAlias)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := af.options()
			if err != nil {
				return err
			}
			m := dry.manager(a)
			ep, already, err := m.Attach(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if dry.on {
				if already {
					m.DryRun.Comment("%s is already attached to %s (%s), nothing to do", args[0], ep.Network, ep.Addr())
				}
				return dry.print(a, m, cmd, args)
			}
			if already {
				fmt.Fprintf(a.out, "%s is already attached to %s (%s), nothing to do\n", args[0], ep.Network, ep.Addr())
				return nil
			}
			fmt.Fprintf(a.out, "%s attached to %s: %s on %s (%s, host %s)\n", args[0], ep.Network, both(ep.IP, ep.IP6), ep.IfName, ep.MAC, ep.HostVeth)
			printPorts(a.out, ep)
			return nil
		},
	}
	af.register(c.Flags(), "target")
	c.Flags().StringVar(&af.o.IfName, "ifname", "", "interface name inside the target (default: eth0, or the next free ethN)")
	dry.register(c.Flags())
	return c
}

func newDetachCmd(a *app) *cobra.Command {
	var netName string
	var dry dryRun
	c := &cobra.Command{
		Use:   "detach [OPTIONS] TARGET",
		Short: "Detach a target from a network, or from all its networks",
		Long:  "Detach a target from one network (--net) or from every network it is on, like `docker network disconnect`.\nSafe to repeat, and works when the container or namespace is already gone.\n\n" + targetHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := dry.manager(a)
			eps, err := m.Detach(cmd.Context(), args[0], netName)
			if dry.on {
				return dry.printDetach(a, m, cmd, args, err)
			}
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
	dry.register(c.Flags())
	return c
}
