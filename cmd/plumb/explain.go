package main

import (
	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/explain"
)

func newExplainCmd(a *app) *cobra.Command {
	var probe, ipv6 bool
	var format string
	c := &cobra.Command{
		Use:   "explain SRC DST[:PORT][/tcp|udp]",
		Short: "Explain how SRC reaches DST, step by step, and whether it does",
		Long: `Follow a packet from SRC (a target, or host) to DST (a name, resolved as SRC would
resolve it; an address; host; a target; or HOSTIP:PORT of a published port) as plumb built
the host: the name, the route inside SRC, the bridge or the gateway, each firewall rule that
decides (and whether the kernel holds it), the NAT, the listener at DST. The verdict is
reachable, blocked (by which rule, and why plumb put it there), no listener or no route.

IPv6: give DST as an IPv6 address, bare (fd00::2, no port) or in brackets ([fd00::2]:80,
[::1]:8080/tcp); or with -6, resolve a name (AAAA), a target or host to its IPv6 address.
The ip6tables rules (or the inet table's IPv6 rules and elements), NAT66 and each network's
IPv6 gateway mode (nat, nat-unprotected, routed, isolated) decide; [::1] of a published port
is served by plumb's daemon, which relays it (IPv6 has no route_localnet).

Without --probe, explain changes nothing. With --probe it also connects from inside SRC
(TCP connect, or a UDP datagram) and says whether reality agrees.`,
		Args:        cobra.ExactArgs(2),
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if probe {
				if err := explain.CheckProbe(args[1]); err != nil {
					return err
				}
			}
			x := &explain.Explainer{M: a.manager(), IPv6: ipv6}
			r, err := x.Explain(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if probe {
				if err := x.Probe(cmd.Context(), r); err != nil {
					return err
				}
			}
			if format == "json" {
				return writeJSON(a.out, r)
			}
			r.WriteText(a.out)
			return nil
		},
	}
	c.Flags().BoolVar(&probe, "probe", false, "also send a real connection from SRC and compare")
	c.Flags().BoolVarP(&ipv6, "ipv6", "6", false, "resolve DST (a name, a target, host) to its IPv6 address")
	c.Flags().StringVar(&format, "format", "", "output format: table or json")
	return c
}
