package iptables

import (
	"errors"
	"fmt"
	"net/netip"
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
// localhost included). A port bound to a loopback address gets only the
// OUTPUT rule, so that nothing but the host reaches it. For
// 0.0.0.0:8080->80/tcp of 172.30.0.2:
//
//	-t nat -A PLUMB-PREROUTING -p tcp -m tcp --dport 8080 -m comment --comment plumb:NAME/OWNER -j DNAT --to-destination 172.30.0.2:80
//	-t nat -A PLUMB-OUTPUT     -p tcp -m tcp --dport 8080 -m comment --comment plumb:NAME/OWNER -j DNAT --to-destination 172.30.0.2:80
//
// Both chains are entered only for destinations of type LOCAL (see the
// skeleton); the forwarding, localhost and hairpin rules every network
// carries (see Rules) do the rest.
func PortRules(name, owner string, ports []firewall.Port) []Rule {
	var rules []Rule
	for _, p := range ports {
		var spec []string
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			spec = append(spec, "-d", netip.PrefixFrom(p.HostIP, 32).String())
		}
		spec = append(spec, "-p", p.Proto, "-m", p.Proto, "--dport", strconv.Itoa(int(p.HostPort)),
			"-m", "comment", "--comment", portComment(name, owner),
			"-j", "DNAT", "--to-destination", netip.AddrPortFrom(p.ContainerIP, p.ContainerPort).String())
		if !p.HostIP.IsLoopback() {
			rules = append(rules, Rule{TableNAT, ChainPrerouting, spec})
		}
		rules = append(rules, Rule{TableNAT, ChainOutput, spec})
	}
	return rules
}

// AddPorts installs PortRules(n.Name, owner, ports) with a single
// `iptables-restore --noflush`, without reading the ruleset first: the
// caller guarantees owner has no port rules yet (DeletePorts first when in
// doubt). When the restore fails because plumb's chains are missing (a
// network created by an older plumb, say), it ensures n's rules and
// retries once. Equivalent to `iptables -t nat -A ...` for each rule.
func (f *Firewall) AddPorts(n firewall.Network, owner string, ports []firewall.Port) error {
	if err := firewall.ValidatePorts(n.Name, owner, ports); err != nil {
		return err
	}
	if len(ports) == 0 {
		return nil
	}
	unlock, err := f.lock()
	if err != nil {
		return fmt.Errorf("publishing ports of %s: %w", owner, err)
	}
	defer unlock()
	var p plan
	for _, r := range PortRules(n.Name, owner, ports) {
		p.ops = append(p.ops, op{kind: opAppend, table: r.Table, chain: r.Chain, spec: r.Spec})
	}
	if err := f.run.restore(p.payload(), true); err != nil {
		if err := n.Validate(); err != nil {
			return fmt.Errorf("publishing ports of %s: %w", owner, err)
		}
		if eerr := f.ensureOnce(n); eerr != nil {
			return fmt.Errorf("publishing ports of %s: %w (repairing the network's rules: %v)", owner, err, eerr)
		}
		if err := f.run.restore(p.payload(), true); err != nil {
			return fmt.Errorf("publishing ports of %s: %w", owner, err)
		}
	}
	return nil
}

// DeletePorts removes every port rule of owner on the network named name
// (comment "plumb:NAME/OWNER"): one iptables-save, and one
// `iptables-restore --noflush` when there is anything to remove. Rules
// already gone are success. Equivalent to `iptables -t nat -D ...` for
// each rule found.
func (f *Firewall) DeletePorts(name, owner string) error {
	if err := firewall.ValidatePorts(name, owner, nil); err != nil {
		return err
	}
	unlock, err := f.lock()
	if err != nil {
		return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
	}
	defer unlock()
	s, err := f.snapshot()
	if err != nil {
		return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
	}
	var p plan
	comment := portComment(name, owner)
	for _, d := range skeleton {
		for _, r := range rulesWithComment(s.tables[d.table].chain(d.name), comment) {
			p.ops = append(p.ops, op{kind: opDelete, table: d.table, chain: d.name, spec: r})
		}
	}
	if len(p.ops) == 0 {
		return nil
	}
	if err := f.run.restore(p.payload(), true); err != nil {
		var errs []error
		for _, o := range p.ops {
			if err := f.run.apply(o); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
		}
	}
	return nil
}
