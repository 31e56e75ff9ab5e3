package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/internal/sysctl"
	"github.com/plumbnet/plumb/network"
)

// HostChecks returns the host checks of m's networks, for Doctor.Host:
// what on the host stands in their way (the FORWARD chain and the rules
// above plumb's jump, iptables-legacy beside iptables-nft, ip_forward,
// route_localnet, rp_filter, br_netfilter, routes and addresses over a
// subnet, leftovers in the localnet guard). The checks read once and
// change nothing; the repairs of what is plumb's go through m, and the
// rest get the command a person runs.
func HostChecks(m *network.Manager) func(nets []*network.Network) []*Finding {
	return func(nets []*network.Network) []*Finding {
		v := readHost(m, nets)
		var out []*Finding
		for _, c := range hostChecks {
			out = append(out, c(v)...)
		}
		return out
	}
}

// hostChecks are the host checks, in the order doctor prints them.
var hostChecks = []func(*hostView) []*Finding{
	checkReads,
	checkForwardJump,
	checkForwardRules,
	checkCoexistence,
	checkIptablesSplit,
	checkIPForward,
	checkIP6Forward,
	checkAcceptRA,
	checkRouteLocalnet,
	checkRPFilter,
	checkOverlap,
	checkStrayGuards,
	checkBrNetfilter,
}

// hostView is what the host checks read, read once. Unit tests fill it in
// by hand.
type hostView struct {
	m    *network.Manager // the repairs' way in; nil: no repair (tests)
	nets []*network.Network
	eps  []*network.Endpoint

	// backend is the firewall backend of plumb's networks
	// (Manager.FirewallBackend); "" is iptables (tests).
	backend string
	// firewalld reports whether firewalld runs.
	firewalld bool
	ipt       *iptables.HostFacts
	iptErr    error
	// sysctl reads a kernel parameter: sysctl.Get.
	sysctl      func(key string) (string, error)
	brNetfilter bool // the br_netfilter module is loaded (or built in)
	prefixes    []bridge.HostPrefix
	prefixErr   error
	strayGuards []string
	guardErr    error
	// raLinks hold an IPv6 default route learned from a router
	// advertisement (bridge.RADefaultRouteLinks).
	raLinks []string
}

// readHost reads what the checks need, in the namespace of the calling
// thread. Equivalent to: `iptables-save; iptables-legacy-save;
// iptables-nft-save; sysctl -a; ip -4 route; ip -4 addr; nft list set inet
// plumb localnet_bridges`.
func readHost(m *network.Manager, nets []*network.Network) *hostView {
	v := &hostView{m: m, nets: nets, sysctl: sysctl.Get}
	if len(nets) > 0 {
		v.ipt, v.iptErr = iptables.Inspect()
		v.prefixes, v.prefixErr = bridge.HostPrefixesOnLinks()
		v.eps, _ = m.AllEndpoints("")
		v.backend, _ = m.FirewallBackend()
		v.firewalld = firewalldRuns()
		v.raLinks, _ = bridge.RADefaultRouteLinks()
	}
	v.strayGuards, v.guardErr = m.StrayGuards()
	if len(nets) == 0 && v.guardErr != nil {
		v.guardErr = nil // no network, no guard: a host without nftables has nothing to check
	}
	_, err := os.Stat("/sys/module/br_netfilter")
	_, err2 := sysctl.Get(bridgeNFCallIPTables)
	v.brNetfilter = err == nil || err2 == nil
	return v
}

// checkReads reports what doctor could not read, and so could not check.
func checkReads(v *hostView) []*Finding {
	var out []*Finding
	for _, r := range []struct {
		err           error
		subject, what string
		see           string
	}{
		{v.iptErr, "iptables", "the FORWARD chain, the rules above plumb's jump and the iptables backends", "iptables-save"},
		{v.prefixErr, "host routes", "the routes and addresses over plumb's subnets", "ip -4 route; ip -4 addr"},
		{v.guardErr, "localnet guard", "the guard's leftovers", "nft list table inet plumb"},
	} {
		if r.err != nil {
			out = append(out, &Finding{Check: "host-read", Severity: Problem, Subject: r.subject,
				What: r.err.Error(), Means: "doctor cannot check " + r.what,
				Fix: "see why `" + r.see + "` fails"})
		}
	}
	return out
}

// restoreAny restores the first of nets that restores (RestoreNetwork):
// what all networks share (plumb's jumps, ip_forward) is then whole.
func restoreAny(m *network.Manager, nets []*network.Network) func(context.Context) error {
	return func(context.Context) error {
		var errs []error
		for _, n := range nets {
			err := m.RestoreNetwork(n.Name)
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("restoring network %q: %w", n.Name, err))
		}
		return errors.Join(errs...)
	}
}

// restore restores network n (RestoreNetwork).
func restore(m *network.Manager, n *network.Network) func(context.Context) error {
	return func(context.Context) error { return m.RestoreNetwork(n.Name) }
}

// nonInternal returns the networks that forward to the outside.
func nonInternal(nets []*network.Network) []*network.Network {
	var out []*network.Network
	for _, n := range nets {
		if !n.Internal {
			out = append(out, n)
		}
	}
	return out
}

// netSubject names network n and its bridge.
func netSubject(n *network.Network) string {
	return fmt.Sprintf("network %s (bridge %s)", n.Name, n.Bridge)
}
