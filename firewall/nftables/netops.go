package nftables

import (
	"fmt"

	"github.com/plumbnet/plumb/firewall"
)

// EnsureNetwork makes NetTable as netdefs.go defines it (creating,
// repairing: a missing set or chain added, a chain's rules replaced when
// they differ, a set of the wrong type replaced with the table) and n's
// elements present exactly once: "BR" in bridges, "BR" . "BR" : accept|drop
// in icc, "BR" in internal_bridges or, per family by its gateway mode,
// nat_bridges, "BR" . SUBNET in nat_subnets / nat_subnets6, "BR" in
// masquerade_bridges / masquerade6_bridges, "BR" . FAMILY in
// isolated_families, protected_families, routed_families (see
// netdefs6.go), each commented "plumb:NAME"; elements of an older config
// of n go. When iptables' (ip6tables') filter FORWARD policy is DROP, n's
// accept rules for IPv4 (IPv6) go there too (see coexist.go). Ports
// published on n stay. One read, then one netlink batch, nothing when all
// is in place. Equivalent to, on a host without plumb:
//
//	nft -f - <<'EOF'
//	add table inet plumb-networks
//	add set inet plumb-networks bridges { type ifname; }
//	...
//	add chain inet plumb-networks forward { type filter hook forward priority filter; policy accept; }
//	add rule inet plumb-networks forward iifname . oifname vmap @icc
//	...
//	add element inet plumb-networks bridges { "BR" comment "plumb:NAME" }
//	add element inet plumb-networks icc { "BR" . "BR" comment "plumb:NAME" : accept }
//	add element inet plumb-networks masquerade_bridges { "BR" comment "plumb:NAME" }
//	add element inet plumb-networks nat_bridges { "BR" comment "plumb:NAME" }
//	add element inet plumb-networks nat_subnets { "BR" . 172.30.0.0/16 comment "plumb:NAME" }
//	EOF
func (f *Firewall) EnsureNetwork(n firewall.Network) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
	}
	if _, err := f.do(true, func(st *netState) []netOp { return planEnsureAll(st, []firewall.Network{n}, nil) }); err != nil {
		return fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
	}
	return nil
}

// DeleteNetwork removes the elements of the network named name (comment
// "plumb:NAME") and its ports ("plumb:NAME/..."), in one batch, and its
// coexistence rules. When no other network has any element left, it
// deletes the table instead, so that `nft list ruleset` is what it was
// before the first EnsureNetwork. What is gone already is success.
// Equivalent to:
//
//	nft delete element inet plumb-networks bridges { "BR" }   (each element of NAME's)
//	nft delete table inet plumb-networks                      (the last network)
func (f *Firewall) DeleteNetwork(name string) error {
	if err := firewall.ValidateName(name); err != nil {
		return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
	}
	if _, err := f.do(true, func(st *netState) []netOp { return planDeleteNetwork(st, name) }); err != nil {
		return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
	}
	return nil
}

// AddPorts publishes ports for owner on n: one element per port, commented
// "plumb:NAME/OWNER", in ports (every address of the host), addr_ports
// (one address) or loopback_ports (a loopback address: the host only), all
// in one batch and without reading anything first, so that its cost does
// not grow with the ports already published. The caller guarantees owner
// has none yet. When the batch fails (the table or a map is missing), n's
// rules are ensured and the ports added in one read and one batch. A port
// whose host address and port another owner holds fails the batch
// (EBUSY). Equivalent to:
//
//	nft add element inet plumb-networks ports { tcp . 8080 comment "plumb:NAME/OWNER" : 172.30.0.2 . 80 }
func (f *Firewall) AddPorts(n firewall.Network, owner string, ports []firewall.Port) error {
	if err := firewall.ValidatePorts(n.Name, owner, ports); err != nil {
		return err
	}
	if len(ports) == 0 {
		return nil
	}
	if len(portComment(n.Name, owner)) > maxComment {
		return fmt.Errorf("publishing ports of %s: %w: network name and owner too long for an element comment (%d bytes at most)",
			owner, firewall.ErrInvalidNetwork, maxComment)
	}
	elems := portElems(n.Name, owner, ports)
	if f.out == nil {
		if err := f.addFast(elems); err == nil {
			return nil
		}
	}
	if err := n.Validate(); err != nil {
		return fmt.Errorf("publishing ports of %s: %w", owner, err)
	}
	_, err := f.do(true, func(st *netState) []netOp {
		ops := planStructure(st)
		if len(ops) == 0 && st.elems[SetBridges][string(ifnameKey(n.Bridge))].comment == netComment(n.Name) {
			return planElems(st, portMaps, func(string) bool { return false }, elems)
		}
		return planEnsureAll(st, []firewall.Network{n}, []firewall.Published{{Network: n, Owner: owner, Ports: ports}})
	})
	if err != nil {
		return fmt.Errorf("publishing ports of %s: %w", owner, err)
	}
	return nil
}

// addFast adds elems in one batch without reading.
func (f *Firewall) addFast(elems []elem) error { return f.writeElems(nAddElem, elems) }

// writeElems adds (nAddElem) or deletes (nDelElem) elems by key in one
// batch, under the lock, without reading the table first.
func (f *Firewall) writeElems(kind netOpKind, elems []elem) error {
	unlock, err := f.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	ops := make([]netOp, len(elems))
	for i, e := range elems {
		ops[i] = netOp{kind: kind, name: e.set, elem: e}
	}
	// One message per set: a dual-stack endpoint's ports alternate
	// between ports and ports6.
	return write(c, groupBySet(ops))
}

// DeletePorts removes every port owner published on the network named
// name (see DeletePortsOf, which need not read): it reads the port maps and deletes the elements commented
// "plumb:NAME/OWNER" in one batch. Ports already gone are success.
// Equivalent to:
//
//	nft delete element inet plumb-networks ports { tcp . 8080 }   (each of them)
func (f *Firewall) DeletePorts(name, owner string) error {
	if err := firewall.ValidatePorts(name, owner, nil); err != nil {
		return err
	}
	if _, err := f.do(false, func(st *netState) []netOp { return planDeletePorts(st, name, owner) }); err != nil {
		return fmt.Errorf("unpublishing ports of %s: %w", owner, err)
	}
	return nil
}

// DeletePortsOf is DeletePorts knowing owner's ports (exactly what
// AddPorts was given: the endpoint's record): it deletes their elements by
// key in one batch without reading the port maps, so that its cost does
// not grow with the ports published. When that batch fails (an element
// already gone, the table missing, a port of another owner's in the way:
// a record out of step) it does what DeletePorts does, read and all, so
// that ports already gone are success. With no ports it is DeletePorts.
//
// What it cannot avoid is the kernel's: every nf_tables batch that deletes
// anything (a set element of any set type: hash, fixed-size hash, rbtree,
// pipapo, with or without timeouts; a rule; `nft flush set`) returns only
// after an RCU grace period, ~10-15 ms here, where a batch that only adds
// takes ~0.4 ms (measured in a throwaway namespace on kernel 6.18, and
// with the nft CLI: `nft delete element` and `nft flush chain` take as
// long). Equivalent to:
//
//	nft delete element inet plumb-networks ports { tcp . 8080 }   (each of them, one batch)
func (f *Firewall) DeletePortsOf(name, owner string, ports []firewall.Port) error {
	if err := firewall.ValidatePorts(name, owner, ports); err != nil {
		return err
	}
	if len(ports) == 0 || f.out != nil {
		return f.DeletePorts(name, owner)
	}
	if err := f.deleteFast(portElems(name, owner, ports)); err == nil {
		return nil
	}
	return f.DeletePorts(name, owner)
}

// deleteFast deletes elems by key in one batch without reading.
func (f *Firewall) deleteFast(elems []elem) error { return f.writeElems(nDelElem, elems) }

// EnsureAll is EnsureNetwork of every network of nets and, for every
// owner of pubs, its ports published exactly as listed (the rest of that
// owner's ports on that network go), from one read in one batch: what
// `nft flush ruleset` took comes back at once. Networks and owners not
// listed are left as they are. It reports whether it wrote anything.
func (f *Firewall) EnsureAll(nets []firewall.Network, pubs []firewall.Published) (bool, error) {
	for _, n := range nets {
		if err := n.Validate(); err != nil {
			return false, fmt.Errorf("ensuring firewall rules: %w", err)
		}
	}
	for _, p := range pubs {
		if err := firewall.ValidatePorts(p.Network.Name, p.Owner, p.Ports); err != nil {
			return false, fmt.Errorf("ensuring firewall rules: %w", err)
		}
	}
	changed, err := f.do(true, func(st *netState) []netOp { return planEnsureAll(st, nets, pubs) })
	if err != nil {
		return false, fmt.Errorf("ensuring firewall rules: %w", err)
	}
	return changed, nil
}
