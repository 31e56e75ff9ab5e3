package main

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/network"
)

// parseFamilies sorts the --subnet, --gateway and --ip-range values into
// o by family: at most one of each per family, as Docker takes them.
func parseFamilies(o *network.CreateOptions, subnets, gateways, ipRanges []string) error {
	for _, s := range subnets {
		p, err := parsePrefix("subnet", s)
		if err != nil {
			return err
		}
		if err := setOnce("subnet", s, p.Addr().Is4(), &o.Subnet, &o.Subnet6, p); err != nil {
			return err
		}
	}
	for _, s := range ipRanges {
		p, err := parsePrefix("ip-range", s)
		if err != nil {
			return err
		}
		if err := setOnce("ip-range", s, p.Addr().Is4(), &o.IPRange, &o.IPRange6, p); err != nil {
			return err
		}
	}
	for _, s := range gateways {
		ip, err := parseAddrAny("gateway", s)
		if err != nil {
			return err
		}
		if err := setOnce("gateway", s, ip.Is4(), &o.Gateway, &o.Gateway6, ip); err != nil {
			return err
		}
	}
	return nil
}

// setOnce stores v in v4 or v6 by family, refusing a second value for one.
func setOnce[T comparable](flag, s string, is4 bool, v4, v6 *T, v T) error {
	dst, fam := v4, "IPv4"
	if !is4 {
		dst, fam = v6, "IPv6"
	}
	var zero T
	if *dst != zero {
		return fmt.Errorf("invalid --%s %q: a second %s --%s", flag, s, fam, flag)
	}
	*dst = v
	return nil
}

func parsePrefix(flag, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid --%s %q: want a CIDR such as 172.30.0.0/24 or fd00:1::/64", flag, s)
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

// parseAddrAny parses an address of either family, without a zone.
func parseAddrAny(flag, s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" || ip.Is4In6() {
		return netip.Addr{}, fmt.Errorf("invalid --%s %q: want an address such as 172.30.0.10 or fd00:1::10", flag, s)
	}
	return ip, nil
}

// both shows a network's IPv4 and IPv6 values: "172.30.0.0/24",
// "fd00::/64", or "172.30.0.0/24,fd00::/64"; "-" for neither.
func both[T interface {
	IsValid() bool
	String() string
}](v4, v6 T) string {
	var out []string
	for _, v := range []T{v4, v6} {
		if v.IsValid() {
			out = append(out, v.String())
		}
	}
	return cmp.Or(strings.Join(out, ","), "-")
}

// ipamConfigs is the IPAM config of each family n has, as Docker lists
// them: IPv4 first.
func ipamConfigs(n *network.Network) []ipamConfigView {
	var out []ipamConfigView
	add := func(subnet, ipRange netip.Prefix, gw netip.Addr) {
		if !subnet.IsValid() {
			return
		}
		c := ipamConfigView{Subnet: subnet.String()}
		if gw.IsValid() {
			c.Gateway = gw.String()
		}
		if ipRange.IsValid() {
			c.IPRange = ipRange.String()
		}
		out = append(out, c)
	}
	add(n.Subnet, n.IPRange, n.Gateway)
	add(n.Subnet6, n.IPRange6, n.Gateway6)
	return out
}

// addrText is an endpoint address as Docker's inspect shows it: "" for none.
func addrText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}
