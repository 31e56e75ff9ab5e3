package main

import (
	"cmp"
	"fmt"
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
	var subnets, gateways, ipRanges []string
	var ipv4 bool
	var mode, driver, store string
	var dry dryRun
	o := network.CreateOptions{ICC: true, Masquerade: true}
	c := &cobra.Command{
		Use:   "create [OPTIONS] NAME",
		Short: "Create a network: a bridge, its subnet and its firewall rules",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			switch driver {
			case network.DriverOverlay:
				return overlayCreate(a, store, o.Name, subnets, gateways, o.MTU, o.Internal)
			case network.DriverBridge:
			default:
				return fmt.Errorf("--driver %q: want bridge or overlay", driver)
			}
			o.NoIPv4 = !ipv4
			if err := parseFamilies(&o, subnets, gateways, ipRanges); err != nil {
				return err
			}
			if mode != "" {
				o.GatewayMode4 = cmp.Or(o.GatewayMode4, mode)
				o.GatewayMode6 = cmp.Or(o.GatewayMode6, mode)
				if o.NoIPv4 {
					o.GatewayMode4 = ""
				}
				if !o.IPv6 {
					o.GatewayMode6 = ""
				}
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
	f.StringArrayVar(&subnets, "subnet", nil, "subnet in CIDR form, one per family (default: a free private /24; with --ipv6 a ULA /64)")
	f.StringArrayVar(&gateways, "gateway", nil, "gateway address, one per family (default: the subnet's first address)")
	f.StringArrayVar(&ipRanges, "ip-range", nil, "allocate addresses from this sub-range only, one per family")
	f.BoolVar(&o.IPv6, "ipv6", false, "enable IPv6")
	f.BoolVar(&ipv4, "ipv4", true, "enable IPv4 (--ipv4=false with --ipv6: an IPv6-only network)")
	f.StringVar(&mode, "gateway-mode", "", "gateway mode of both families: nat, nat-unprotected, routed or isolated (default nat)")
	f.StringVar(&o.GatewayMode4, "gateway-mode-ipv4", "", "gateway mode of IPv4")
	f.StringVar(&o.GatewayMode6, "gateway-mode-ipv6", "", "gateway mode of IPv6")
	f.StringVar(&o.Bridge, "bridge", "", "bridge interface name (default: pb- and a hash of the name)")
	f.IntVar(&o.MTU, "mtu", 0, "MTU (default: the MTU of the default-route interface)")
	f.BoolVar(&o.Internal, "internal", false, "restrict external access: no masquerade, nothing leaves the bridge")
	f.BoolVar(&o.ICC, "icc", true, "allow endpoints of the network to reach each other")
	f.BoolVar(&o.Masquerade, "masquerade", true, "masquerade traffic leaving the network")
	f.StringVarP(&driver, "driver", "d", network.DriverBridge, "bridge (this host), or overlay (every host of the cluster store, made by plumb-cluster)")
	f.StringVar(&store, "store", "", "with --driver overlay: the cluster store etcd://HOST:PORT[,...] (env PLUMB_STORE)")
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
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", shortID(n.ID), n.Name, n.Driver,
					both(n.Subnet, n.Subnet6), both(n.Gateway, n.Gateway6), n.Bridge, len(eps))
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
	EnableIPv4 bool                    `json:"EnableIPv4"`
	EnableIPv6 bool                    `json:"EnableIPv6"`
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
	Gateway string `json:"Gateway,omitempty"`
}

type endpointView struct {
	Name        string   `json:"Name"`
	Target      string   `json:"Target"`
	EndpointID  string   `json:"EndpointID"`
	MacAddress  string   `json:"MacAddress"`
	IPv4Address string   `json:"IPv4Address"`
	IPv6Address string   `json:"IPv6Address"`
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
					Firewall: backend, EnableIPv4: n.IPv4(), EnableIPv6: n.IPv6(),
					IPAM:       ipamView{Driver: "plumb-file", Config: ipamConfigs(n)},
					Internal:   n.Internal,
					Containers: map[string]endpointView{},
					Options: map[string]string{
						"com.docker.network.bridge.name":                 n.Bridge,
						"com.docker.network.bridge.enable_icc":           fmt.Sprint(n.ICC),
						"com.docker.network.bridge.enable_ip_masquerade": fmt.Sprint(n.Masquerade),
						"com.docker.network.driver.mtu":                  fmt.Sprint(n.MTU),
					},
				}
				for _, o := range []struct{ k, v string }{
					{"com.docker.network.bridge.gateway_mode_ipv4", n.GatewayMode4},
					{"com.docker.network.bridge.gateway_mode_ipv6", n.GatewayMode6},
				} {
					if o.v != "" {
						v.Options[o.k] = o.v
					}
				}
				health := m.Health(eps)
				for i, ep := range eps {
					key := ep.ContainerID
					if key == "" {
						key = ep.ID
					}
					v.Containers[key] = endpointView{
						Name: displayName(ep), Target: ep.Target, EndpointID: ep.ID, MacAddress: ep.MAC,
						IPv4Address: addrText(ep.IP), IPv6Address: addrText(ep.IP6), HostVeth: ep.HostVeth, IfName: ep.IfName, Aliases: ep.Aliases,
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
	var force, local bool
	var store string
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
				if n, err := m.Get(name); err == nil && n.Overlay() && !dry.on && !local {
					// Removed from the store: every host's agent removes it.
					if err := overlayRm(a, store, name, force); err != nil {
						failed = append(failed, fmt.Sprintf("overlay network %q: %v", name, err))
					}
					continue
				}
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
	c.Flags().StringVar(&store, "store", "", "for an overlay network: the cluster store etcd://HOST:PORT[,...] (env PLUMB_STORE)")
	c.Flags().BoolVar(&local, "local", false, "for an overlay network: remove only this host's part (its agent makes it again while the store has it)")
	dry.register(c.Flags())
	return c
}
