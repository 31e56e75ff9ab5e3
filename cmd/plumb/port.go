package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
)

func newPortCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:         "port TARGET [PRIVATE_PORT[/PROTO]]",
		Short:       "List the published ports of a target, like `docker port`",
		Long:        "List the published ports of a target, like `docker port`: one line per mapping,\n\"80/tcp -> 0.0.0.0:8080\", or only the host side for one private port.\n\n" + targetHelp,
		Args:        cobra.RangeArgs(1, 2),
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			var port uint64
			proto := "tcp"
			if len(args) == 2 {
				p, pr, hasProto := strings.Cut(args[1], "/")
				var err error
				if port, err = strconv.ParseUint(p, 10, 16); err != nil || port == 0 {
					return fmt.Errorf("invalid port %q: want PORT[/tcp|/udp]", args[1])
				}
				if hasProto {
					if pr != "tcp" && pr != "udp" {
						return fmt.Errorf("invalid protocol %q in %q: want tcp or udp", pr, args[1])
					}
					proto = pr
				}
			}
			m := a.manager()
			eps, err := m.EndpointsOf(cmd.Context(), args[0], "")
			if err != nil {
				return err
			}
			if len(eps) == 0 {
				return fmt.Errorf("%q is %w to any network", args[0], network.ErrNotAttached)
			}
			// Only what answers: the mappings of an endpoint that is not up
			// are not printed, and the command says why.
			var broken []string
			health := m.Health(eps)
			found := false
			for i, ep := range eps {
				if h := health[i]; h.State != network.StateUp && len(ep.Ports) > 0 {
					broken = append(broken, fmt.Sprintf("on %s it is %s: its published ports do not answer (see `plumb doctor`)", ep.Network, stateColumn(h)))
					continue
				}
				for _, p := range ep.Ports {
					if port == 0 {
						fmt.Fprintf(a.out, "%d/%s -> %s\n", p.Port, p.Proto, p.Host())
					} else if uint64(p.Port) == port && p.Proto == proto {
						fmt.Fprintln(a.out, p.Host())
						found = true
					}
				}
			}
			if len(broken) > 0 {
				return fmt.Errorf("%s: %s", args[0], strings.Join(broken, "; "))
			}
			if port != 0 && !found {
				return fmt.Errorf("no public port '%d/%s' published for %s", port, proto, args[0])
			}
			return nil
		},
	}
}

// portsColumn is the PORTS cell of `plumb ps`, as `docker ps` writes it.
func portsColumn(ep *network.Endpoint) string {
	var s []string
	for _, p := range ep.Ports {
		s = append(s, p.String())
	}
	return dash(strings.Join(s, ", "))
}
