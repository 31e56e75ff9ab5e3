package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/network"
)

// checkNetworks compares each network's config with its bridge and rules.
func checkNetworks(ctx context.Context, d *Doctor) []*Finding {
	names, err := d.M.NetworkNames()
	if err != nil {
		return []*Finding{{Check: "state", Severity: Problem, Subject: "state directory " + d.M.StateDir,
			What: err.Error(), Means: "plumb cannot read its networks", Fix: "check the directory's permissions and file system"}}
	}
	var out []*Finding
	good, _ := d.M.List()
	broken := d.M.CheckNetworks(good) // one reading of the firewall and the guard for all
	for _, name := range names {
		n, err := d.M.Get(name)
		if err != nil {
			out = append(out, &Finding{Check: "network-config", Severity: Problem, Subject: "network " + name,
				What:  fmt.Sprintf("its config is unreadable: %v", err),
				Means: "network ls and inspect skip it; whatever it built (bridge, rules, endpoints) stays",
				Fix:   "remove it as `plumb network rm --force " + name + "` does", Owned: true,
				repair: func(ctx context.Context) error { return d.M.Remove(ctx, name, true) }})
			continue
		}
		if _, err := d.M.Endpoints(name); err != nil {
			out = append(out, &Finding{Check: "network-config", Severity: Problem, Subject: "network " + name,
				What: err.Error(), Means: "its endpoints cannot be listed, attached or detached",
				Fix: "make its endpoints directory a directory again", Owned: true,
				repair: func(context.Context) error { return d.M.RestoreNetwork(name) }})
		}
		if err := broken[name]; err != nil {
			f := &Finding{Check: "network", Severity: Problem, Subject: "network " + name,
				What:  err.Error(),
				Means: "its endpoints may be cut off, or unprotected: forwarding, isolation and masquerade depend on it",
				Fix:   "restore its bridge, address and rules as network create made them", Owned: true,
				repair: func(context.Context) error { return d.M.RestoreNetwork(name) }}
			if errors.Is(err, network.ErrExists) {
				f.Owned, f.repair = false, nil
				f.Fix = fmt.Sprintf("the name %s belongs to another link: remove it if it is not yours (`ip link del %s`), then run `plumb doctor --fix`", n.Bridge, n.Bridge)
			}
			out = append(out, f)
		}
	}
	return out
}

// checkEndpoints tells each endpoint's state from the kernel.
func checkEndpoints(ctx context.Context, d *Doctor) []*Finding {
	eps, hs, err := d.M.EndpointsHealth("")
	if err != nil {
		return nil // checkNetworks reports what makes the records unreadable
	}
	// A network whose config is unreadable is checkNetworks' finding, and
	// its fix (removing the network) removes its endpoints: a repair of
	// theirs would only fail.
	damaged := map[string]bool{}
	var out []*Finding
	for i, ep := range eps {
		h := hs[i]
		if _, seen := damaged[ep.Network]; !seen {
			_, err := d.M.Get(ep.Network)
			damaged[ep.Network] = err != nil
		}
		if damaged[ep.Network] {
			continue
		}
		subject := fmt.Sprintf("endpoint %s on %s (%s)", ep.Target, ep.Network, ep.Addr())
		switch h.State {
		case network.StateUp:
		case network.StateStale:
			out = append(out, &Finding{Check: "stale-endpoint", Severity: Note, Subject: subject,
				What:  h.Reason,
				Means: "its target stopped or was restarted: the daemon lets its published ports go and keeps its address for it (--stale-grace, 10 min by default), then detaches it",
				Fix:   fmt.Sprintf("`plumb attach %s --net %s` when it runs again, or `plumb detach %s` to free its address", ep.Target, ep.Network, ep.Target)})
		case network.StateBroken, network.StateDown:
			ep := ep
			f := &Finding{Check: "endpoint", Severity: Problem, Subject: subject,
				What:  h.State + ": " + h.Reason,
				Means: "its traffic, names or published ports do not work as attach made them",
				Fix:   "tear down what is left and attach it again, with the same address and ports", Owned: true,
				repair: func(ctx context.Context) error { return d.M.Repair(ctx, ep) }}
			if h.DaemonSilent {
				// A repair is an attach, which needs the daemon: it would
				// tear the endpoint down and stall half way.
				f.Owned, f.repair = false, nil
				f.Fix = "make the daemon answer (see its finding), then run `plumb doctor --fix`"
			}
			out = append(out, f)
		}
	}
	return out
}

// checkLeaks looks for what interrupted operations left behind: links,
// address files, records without addresses, port rules, target files.
func checkLeaks(ctx context.Context, d *Doctor) []*Finding {
	var out []*Finding
	if links, err := d.M.StrayLinks(); err == nil {
		for _, l := range links {
			out = append(out, &Finding{Check: "stray-link", Severity: Problem, Subject: "link " + l,
				What: "a veth of plumb's that no endpoint has", Means: "a leak of an interrupted attach or detach",
				Fix: "delete it (`ip link del " + l + "`)", Owned: true,
				repair: func(context.Context) error { return d.M.DeleteLinks([]string{l}) }})
		}
	}
	nets, _ := d.M.List()
	for _, n := range nets {
		addrs, unreserved, err := d.M.Orphans(n)
		if err != nil {
			continue
		}
		for ip, owner := range addrs {
			what := fmt.Sprintf("address %s is reserved for %s, which has no record", ip, ownerName(owner))
			if ep, err := d.M.Endpoint(n.Name, owner); err == nil {
				what = fmt.Sprintf("address %s is reserved for %s, whose record names %s", ip, owner, ep.Addr())
			}
			out = append(out, &Finding{Check: "orphan-address", Severity: Problem, Subject: addrSubject(n, ip),
				What: what, Means: "the address is never handed out again: a leak of an interrupted attach",
				Fix: "free it", Owned: true,
				repair: func(context.Context) error { return d.M.ReleaseOrphans(n) }})
		}
		for _, ep := range unreserved {
			out = append(out, &Finding{Check: "unreserved-address", Severity: Problem, Subject: addrSubject(n, ep.Addr()),
				What:  fmt.Sprintf("endpoint %s uses it with no address file of its own", ep.Target),
				Means: "the next attach may be given the same address",
				Fix:   "reserve it for the endpoint again", Owned: true,
				repair: func(context.Context) error { return d.M.Reserve(ep) }})
		}
	}
	if rules, err := d.M.StrayPortRules(); err == nil {
		for netName, owners := range rules {
			for _, owner := range owners {
				out = append(out, &Finding{Check: "stray-port-rule", Severity: Problem, Subject: "port rules " + netName + "/" + owner,
					What: "published-port rules of an endpoint that no longer exists", Means: "traffic to those host ports is sent nowhere",
					Fix: "delete them", Owned: true,
					repair: func(context.Context) error { return d.M.DeletePortRules(netName, owner) }})
			}
		}
	}
	if paths, err := d.M.StateLeftovers(); err == nil {
		for _, p := range paths {
			out = append(out, &Finding{Check: "state-leftover", Severity: Problem, Subject: p,
				What: "a leftover of a write cut short (a network create, an endpoint record)", Means: "nothing reads it: it only takes room in plumb's state",
				Fix: "remove it", Owned: true,
				repair: func(context.Context) error { return d.M.RemoveStateLeftover(p) }})
		}
	}
	out = append(out, targetFiles(d)...)
	return out
}

// targetFiles finds what detaches left in targets' files.
func targetFiles(d *Doctor) []*Finding {
	var out []*Finding
	if left, err := d.M.TargetFileLeftovers(); err == nil {
		for ns, tags := range left {
			for _, tag := range tags {
				out = append(out, &Finding{Check: "stray-hosts-line", Severity: Problem, Subject: "/etc/netns/" + ns + "/hosts",
					What: "lines of endpoint " + tag + ", which no longer exists", Means: "the target resolves names to an address it no longer has",
					Fix: "remove them", Owned: true,
					repair: func(context.Context) error { return d.M.RemoveTargetHosts(ns, tag) }})
			}
		}
	}
	if strays, err := d.M.StrayResolvs(); err == nil {
		for _, sr := range strays {
			f := &Finding{Check: "stray-resolv", Severity: Problem, Subject: "/etc/netns/" + sr.NS + "/resolv.conf",
				What: "points at 127.0.0.11 though no endpoint of netns:" + sr.NS + " is left", Means: "`ip netns exec " + sr.NS + "` resolves nothing",
				Fix: "put back the file it had before plumb", Owned: true,
				repair: func(context.Context) error { return d.M.RestoreTargetResolv(sr) }}
			if !sr.Pointed {
				f.What = "its original is still kept in plumb's state though no endpoint of netns:" + sr.NS + " is left"
				f.Means = "a copy plumb no longer needs, left by a detach cut short"
				f.Fix = "drop the kept copy"
			}
			out = append(out, f)
		}
	}
	return append(out, netnsLeftovers()...)
}

func addrSubject(n *network.Network, ip netip.Addr) string {
	return fmt.Sprintf("address %s of %s", ip, n.Name)
}

func ownerName(owner string) string {
	if owner == "" {
		return "an owner that cannot be read (a damaged file)"
	}
	return owner
}
