package iptables

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/plumbnet/plumb/firewall"
)

// portComment is the comment of the port rules of owner on network name:
// "plumb:NAME/OWNER", which DeleteNetwork removes with the network's rules.
func portComment(name, owner string) string { return NetworkComment(name) + "/" + owner }

// PortRules returns the nat rules that publish ports for owner (an
// endpoint id) on the network named name, in the order AddPorts appends
// them: for each port, the DNAT in PLUMB-PREROUTING (traffic from other
// hosts and from containers) and the one in PLUMB-OUTPUT (the host itself,
// localhost included); ip6tables rules (V6) for a port whose ContainerIP
// is IPv6. A port bound to a loopback address gets only the OUTPUT rule,
// so that nothing but the host reaches it; a port bound to [::1] gets no
// rule at all: IPv6 has no route_localnet, a connection from ::1 cannot be
// sent out through a bridge, and the daemon's proxy serves it. For
// 0.0.0.0:8080->80/tcp of 172.30.0.2:
//
//	-t nat -A PLUMB-PREROUTING -p tcp -m tcp --dport 8080 -m comment --comment plumb:NAME/OWNER -j DNAT --to-destination 172.30.0.2:80
//	-t nat -A PLUMB-OUTPUT     -p tcp -m tcp --dport 8080 -m comment --comment plumb:NAME/OWNER -j DNAT --to-destination 172.30.0.2:80
//
// and for [::]:8080->80/tcp of fd00::2 the same two with ip6tables and
// `--to-destination [fd00::2]:80`. Both chains are entered only for
// destinations of type LOCAL (ip6tables' PLUMB-OUTPUT not for ::1; see the
// skeleton); the forwarding, localhost and hairpin rules every network
// carries (see Rules) do the rest.
func PortRules(name, owner string, ports []firewall.Port) []Rule {
	var rules []Rule
	for _, p := range ports {
		v6 := p.Is6()
		if v6 && p.HostIP.IsLoopback() {
			continue
		}
		var spec []string
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			spec = append(spec, "-d", netip.PrefixFrom(p.HostIP, p.HostIP.BitLen()).String())
		}
		spec = append(spec, "-p", p.Proto, "-m", p.Proto, "--dport", strconv.Itoa(int(p.HostPort)),
			"-m", "comment", "--comment", portComment(name, owner),
			"-j", "DNAT", "--to-destination", netip.AddrPortFrom(p.ContainerIP, p.ContainerPort).String())
		if !p.HostIP.IsLoopback() {
			rules = append(rules, Rule{Table: TableNAT, Chain: ChainPrerouting, Spec: spec, V6: v6})
		}
		rules = append(rules, Rule{Table: TableNAT, Chain: ChainOutput, Spec: spec, V6: v6})
	}
	return rules
}

// PortRulesOn is PortRules for ports published on n, and, for each port
// of a family whose gateway mode is routed (and not blocked), the rule of
// PLUMB-ROUTED that lets it in at the container's own address and port:
//
//	-A PLUMB-ROUTED -d 172.30.0.2/32 -o BR -p tcp -m tcp --dport 80 -m comment --comment plumb:NAME/OWNER -j ACCEPT
//
// A port published on a loopback address only (127.0.0.1, [::1]) is meant
// for the host alone: it opens nothing to outside, as on nftables. The
// DNAT rules come first, then the accepts.
func PortRulesOn(n firewall.Network, owner string, ports []firewall.Port) []Rule {
	rules := PortRules(n.Name, owner, ports)
	routed := map[bool]bool{}
	for _, fm := range families(n) {
		routed[fm.v6] = fm.mode == firewall.ModeRouted && !fm.blocked
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if !routed[p.Is6()] || p.HostIP.IsLoopback() {
			continue
		}
		spec := ruleSpec(portComment(n.Name, owner),
			"-d", netip.PrefixFrom(p.ContainerIP, p.ContainerIP.BitLen()).String(), "-o", n.Bridge,
			"-p", p.Proto, "-m", p.Proto, "--dport", strconv.Itoa(int(p.ContainerPort)), "-j", "ACCEPT")
		if key := specKey(spec); !seen[key] { // -p 80:80 -p 8080:80: one accept
			seen[key] = true
			rules = append(rules, Rule{Table: TableFilter, Chain: ChainRouted, Spec: spec, V6: p.Is6()})
		}
	}
	return rules
}

// AddPorts installs PortRulesOn(n, owner, ports) with a single
// `iptables-restore --noflush` per family that has rules (ip6tables-restore
// for the IPv6 ports), without reading the ruleset first: the caller
// guarantees owner has no port rules yet (DeletePorts first when in
// doubt). When a restore fails because plumb's chains are missing (a
// network created by an older plumb, say), it ensures n's rules of that
// family and retries once. When the ip6tables part fails for good, the
// iptables part is taken back. Equivalent to `iptables -t nat -A ...` for
// each rule (`ip6tables -t nat -A ...` for the IPv6 ones).
func (f *Firewall) AddPorts(n firewall.Network, owner string, ports []firewall.Port) error {
	if err := firewall.ValidatePorts(n.Name, owner, ports); err != nil {
		return err
	}
	rules := PortRulesOn(n, owner, ports)
	if len(rules) == 0 {
		return nil
	}
	unlock, err := f.lock()
	if err != nil {
		return fmt.Errorf("publishing ports of %s: %w", owner, err)
	}
	defer unlock()
	var done []write
	for _, v6 := range []bool{false, true} {
		var ops []op
		for _, r := range rulesOfFamily(rules, v6) {
			ops = append(ops, op{kind: opAppend, table: r.Table, chain: r.Chain, spec: r.Spec})
		}
		if len(ops) == 0 {
			continue
		}
		if err := f.addFamily(n, v6, ops); err != nil {
			if uerr := errors.Join(f.undo(done)...); uerr != nil {
				err = fmt.Errorf("%w (taking back the iptables rules: %v)", err, uerr)
			}
			return fmt.Errorf("publishing ports of %s: %w", owner, err)
		}
		done = append(done, write{&snapshot{v6: v6, tables: map[string]*table{}}, ops})
	}
	return nil
}

// addFamily appends ops, port rules of one family, with one restore; when
// it fails, it ensures n's rules of that family and tries once more.
func (f *Firewall) addFamily(n firewall.Network, v6 bool, ops []op) error {
	r, err := f.runnerOf(v6)
	if err != nil {
		return err
	}
	payload := plan{ops: ops}.payload()
	if err := r.restore(payload, true); err != nil {
		if err := n.Validate(); err != nil {
			return err
		}
		var fams []family
		for _, fm := range families(n) {
			if fm.v6 == v6 {
				fams = append(fams, fm)
			}
		}
		if eerr := f.ensureFamilies(n, fams); eerr != nil {
			return fmt.Errorf("%w (repairing the network's rules: %v)", err, eerr)
		}
		return r.restore(payload, true)
	}
	return nil
}

// DeletePorts removes every port rule of owner on the network named name
// (comment "plumb:NAME/OWNER"): one iptables-save, and one
// `iptables-restore --noflush` when there is anything to remove; the same
// with ip6tables where it can be used. Rules already gone are success.
// Equivalent to `iptables -t nat -D ...` for each rule found.
func (f *Firewall) DeletePorts(name, owner string) error {
	if err := firewall.ValidatePorts(name, owner, nil); err != nil {
		return err
	}
	return f.deletePorts(name, owner, f.readFamilies())
}

var _ firewall.PortDeleter = (*Firewall)(nil)

// DeletePortsOf is DeletePorts for the families of ports only, ports
// being what AddPorts was given for owner: an endpoint with IPv4 ports
// only costs no ip6tables command. With no ports it is DeletePorts.
func (f *Firewall) DeletePortsOf(name, owner string, ports []firewall.Port) error {
	if err := firewall.ValidatePorts(name, owner, ports); err != nil {
		return err
	}
	if len(ports) == 0 {
		return f.DeletePorts(name, owner)
	}
	var fams []bool
	for _, v6 := range []bool{false, true} {
		if slices.ContainsFunc(ports, func(p firewall.Port) bool { return p.Is6() == v6 }) && (!v6 || f.has6()) {
			fams = append(fams, v6)
		}
	}
	return f.deletePorts(name, owner, fams)
}

// deletePorts is DeletePorts in the families listed (v6 or not).
func (f *Firewall) deletePorts(name, owner string, fams []bool) error {
	unlock, err := f.lock()
	if err != nil {
		return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
	}
	defer unlock()
	var errs []error
	for _, v6 := range fams {
		s, err := f.snapshotOf(v6)
		if err != nil {
			return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
		}
		var p plan
		comment := portComment(name, owner)
		for _, d := range skeletonOf(v6) {
			for _, r := range rulesWithComment(s.tables[d.table].chain(d.name), comment) {
				p.ops = append(p.ops, op{kind: opDelete, table: d.table, chain: d.name, spec: r})
			}
		}
		if len(p.ops) == 0 {
			continue
		}
		r, _ := f.runnerOf(v6)
		if err := r.restore(p.payload(), true); err != nil {
			for _, o := range p.ops {
				if err := r.apply(o); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
	}
	return nil
}
