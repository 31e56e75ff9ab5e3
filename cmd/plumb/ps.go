package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
)

func newPsCmd(a *app) *cobra.Command {
	var netName, format string
	c := &cobra.Command{
		Use:         "ps",
		Short:       "List endpoints: one row per target and network",
		Args:        cobra.NoArgs,
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			m := a.manager()
			eps, health, err := m.EndpointsHealth(netName)
			if err != nil {
				return err
			}
			if format == "json" {
				rows := make([]psRow, 0, len(eps))
				for i, ep := range eps {
					rows = append(rows, psRow{Endpoint: ep, Health: health[i], Stale: health[i].State == network.StateStale})
				}
				return writeJSON(a.out, rows)
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "TARGET\tCONTAINER ID\tNAME\tNETWORK\tIP\tMAC\tHOST VETH\tIFNAME\tPORTS\tSTATE")
			for i, ep := range eps {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ep.Target, dash(shortID(ep.ContainerID)), dash(displayName(ep)), ep.Network, both(ep.IP, ep.IP6), ep.MAC, ep.HostVeth, ep.IfName, portsColumn(ep), stateColumn(health[i]))
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&netName, "net", "", "only endpoints of this network")
	c.Flags().StringVar(&format, "format", "", "output format: table or json")
	return c
}

// psRow is one endpoint in `ps --format json`: its record, its state from
// kernel facts with the reason, and whether its namespace is gone.
type psRow struct {
	*network.Endpoint
	network.Health
	Stale bool `json:"stale"`
}

// stateColumn is ps's STATE cell: up; down or broken with what is down
// or missing (`plumb doctor` says more, `plumb doctor --fix` repairs it);
// stale when the endpoint's namespace is gone (a stopped or restarted
// container, a deleted netns: `plumb attach` again gives it back its
// address, `plumb detach` clears it).
func stateColumn(h network.Health) string {
	if h.Reason == "" || h.State == network.StateStale {
		return h.State
	}
	return h.State + " (" + h.Reason + ")"
}

func displayName(ep *network.Endpoint) string {
	if ep.ContainerName != "" {
		return ep.ContainerName
	}
	return ep.Hostname
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func checkFormat(f string) error {
	if f != "" && f != "table" && f != "json" {
		return fmt.Errorf("invalid --format %q: want table or json", f)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
