package main

import (
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
)

func newNetworkCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "network", Short: "Manage networks"}
	c.AddCommand(newNetworkCreateCmd(a), newNetworkLsCmd(a), newNetworkInspectCmd(a), newNetworkRmCmd(a))
	return c
}

func newNetworkCreateCmd(a *app) *cobra.Command {
	var subnet, gateway, ipRange string
	var dry dryRun
	o := network.CreateOptions{ICC: true, Masquerade: true}
	c := &cobra.Command{
		Use:   "create [OPTIONS] NAME",
		Short: "Create a network: a bridge, its subnet and its firewall rules",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			var err error
			if o.Subnet, err = parsePrefix("subnet", subnet); err != nil {
				return err
			}
			if o.IPRange, err = parsePrefix("ip-range", ipRange); err != nil {
				return err
			}
			if o.Gateway, err = parseAddr("gateway", gateway); err != nil {
				return err
			}
			m := dry.manager(a)
			n, err := m.Create(o)
			if err != nil {
				return err
			}
			if dry.on {
				return dry.print(a, m, cmd, args)
			}
			fmt.Fprintln(a.out, n.ID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&subnet, "subnet", "", "subnet in CIDR form (default: a free private /24)")
	f.StringVar(&gateway, "gateway", "", "gateway address (default: the subnet's first address)")
	f.StringVar(&ipRange, "ip-range", "", "allocate addresses from this sub-range only")
	f.StringVar(&o.Bridge, "bridge", "", "bridge interface name (default: pb- and a hash of the name)")
	f.IntVar(&o.MTU, "mtu", 0, "MTU (default: the MTU of the default-route interface)")
	f.BoolVar(&o.Internal, "internal", false, "restrict external access: no masquerade, nothing leaves the bridge")
	f.BoolVar(&o.ICC, "icc", true, "allow endpoints of the network to reach each other")
	f.BoolVar(&o.Masquerade, "masquerade", true, "masquerade traffic leaving the network")
	dry.register(f)
	return c
}

// shortID is the 12-character id Docker shows.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func parsePrefix(flag, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid --%s %q: want a CIDR such as 172.30.0.0/24", flag, s)
	}
	return p, nil
}

func parseAddr(flag, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("invalid --%s %q: want an IPv4 address such as 172.30.0.10", flag, s)
	}
	return ip, nil
}

func newNetworkLsCmd(a *app) *cobra.Command {
	var format string
	var quiet bool
	c := &cobra.Command{
		Use:         "ls",
		Aliases:     []string{"list"},
		Short:       "List networks",
		Args:        cobra.NoArgs,
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			m := a.manager()
			nets, damaged := m.List()
			// A damaged network is no reason to hide the others, nor to
			// fail: one line on stderr says which, and doctor repairs it.
			if damaged != nil {
				fmt.Fprintln(a.err, "plumb: warning: "+oneLine(damaged.Error())+" (`plumb doctor --fix` removes it)")
			}
			if format == "json" {
				if nets == nil {
					nets = []*network.Network{}
				}
				if err := writeJSON(a.out, nets); err != nil {
					return err
				}
				return nil
			}
			if quiet {
				for _, n := range nets {
					fmt.Fprintln(a.out, shortID(n.ID))
				}
				return nil
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "NETWORK ID\tNAME\tDRIVER\tSUBNET\tGATEWAY\tBRIDGE\tENDPOINTS")
			for _, n := range nets {
				eps, _ := m.Endpoints(n.Name)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", shortID(n.ID), n.Name, n.Driver, n.Subnet, n.Gateway, n.Bridge, len(eps))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "output format: table or json")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	return c
}

// inspectView is `plumb network inspect` output, shaped like Docker's.
type inspectView struct {
	Name       string                  `json:"Name"`
	ID         string                  `json:"Id"`
	Created    string                  `json:"Created"`
	Driver     string                  `json:"Driver"`
	Firewall   string                  `json:"Firewall"` // the backend of its rules: nftables or iptables
	IPAM       ipamView                `json:"IPAM"`
	Internal   bool                    `json:"Internal"`
	Containers map[string]endpointView `json:"Containers"`
	Options    map[string]string       `json:"Options"`
}

type ipamView struct {
	Driver string           `json:"Driver"`
	Config []ipamConfigView `json:"Config"`
}

type ipamConfigView struct {
	Subnet  string `json:"Subnet"`
	IPRange string `json:"IPRange,omitempty"`
	Gateway string `json:"Gateway"`
}

type endpointView struct {
	Name        string   `json:"Name"`
	Target      string   `json:"Target"`
	EndpointID  string   `json:"EndpointID"`
	MacAddress  string   `json:"MacAddress"`
	IPv4Address string   `json:"IPv4Address"`
	HostVeth    string   `json:"HostVeth"`
	IfName      string   `json:"IfName"`
	Aliases     []string `json:"Aliases,omitempty"`
	State       string   `json:"State"`            // from kernel facts, as ps shows it
	Reason      string   `json:"Reason,omitempty"` // what is down or missing
}

func newNetworkInspectCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:         "inspect NAME...",
		Short:       "Show networks' configuration and endpoints, as JSON",
		Args:        cobra.MinimumNArgs(1),
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f, _ := cmd.Flags().GetString("format"); f != "" && f != "json" {
				return fmt.Errorf("invalid --format %q: inspect prints json", f)
			}
			m := a.manager()
			backend, err := m.FirewallBackend()
			if err != nil {
				return err
			}
			views := []inspectView{}
			for _, name := range args {
				n, err := m.Get(name)
				if err != nil {
					return err
				}
				eps, err := m.Endpoints(name)
				if err != nil {
					return err
				}
				v := inspectView{
					Name: n.Name, ID: n.ID, Created: n.Created.Format("2006-01-02T15:04:05.999999999Z07:00"), Driver: n.Driver,
					Firewall:   backend,
					IPAM:       ipamView{Driver: "plumb-file", Config: []ipamConfigView{{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()}}},
					Internal:   n.Internal,
					Containers: map[string]endpointView{},
					Options: map[string]string{
						"com.docker.network.bridge.name":                 n.Bridge,
						"com.docker.network.bridge.enable_icc":           fmt.Sprint(n.ICC),
						"com.docker.network.bridge.enable_ip_masquerade": fmt.Sprint(n.Masquerade),
						"com.docker.network.driver.mtu":                  fmt.Sprint(n.MTU),
					},
				}
				if n.IPRange.IsValid() {
					v.IPAM.Config[0].IPRange = n.IPRange.String()
				}
				health := m.Health(eps)
				for i, ep := range eps {
					key := ep.ContainerID
					if key == "" {
						key = ep.ID
					}
					v.Containers[key] = endpointView{
						Name: displayName(ep), Target: ep.Target, EndpointID: ep.ID, MacAddress: ep.MAC,
						IPv4Address: ep.IP.String(), HostVeth: ep.HostVeth, IfName: ep.IfName, Aliases: ep.Aliases,
						State: health[i].State, Reason: health[i].Reason,
					}
				}
				views = append(views, v)
			}
			return writeJSON(a.out, views)
		},
	}
	c.Flags().String("format", "json", "output format (json)")
	return c
}

func newNetworkRmCmd(a *app) *cobra.Command {
	var force bool
	var dry dryRun
	c := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := dry.manager(a)
			var failed []string
			for _, name := range args {
				if err := m.Remove(cmd.Context(), name, force); err != nil {
					failed = append(failed, err.Error())
					continue
				}
				if !dry.on {
					fmt.Fprintln(a.out, name)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%s", strings.Join(failed, "; "))
			}
			if dry.on {
				return dry.print(a, m, cmd, args)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "detach remaining endpoints first")
	dry.register(c.Flags())
	return c
}
