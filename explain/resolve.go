package explain

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
)

// target is DST once resolved to an address.
type target struct {
	addr netip.Addr
	// stop is set when the name itself ends the path (SRC cannot resolve
	// it): the verdict is already decided.
	stop bool
}

// resolveDst turns DST's host into an address as SRC would, adding the
// step that says how. An error is bad input: the one line names it.
func (x *run) resolveDst(ctx context.Context, host string) (target, error) {
	switch {
	case host == "host":
		return x.hostOfSrc()
	case isAddr(host):
		return target{addr: netip.MustParseAddr(host)}, nil
	case strings.HasPrefix(host, "pid:") || strings.HasPrefix(host, "netns:") || strings.HasPrefix(host, "/"):
		return x.targetDst(ctx, host)
	}
	return x.name(host)
}

// isAddr tells whether s is an IPv4 or IPv6 address (ParseDst gives an
// IPv6 one without brackets).
func isAddr(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && !a.Is4In6()
}

// hostOfSrc is the host as SRC sees it: the gateway of its default route
// (its IPv6 one with x.want6, or when SRC has no IPv4).
func (x *run) hostOfSrc() (target, error) {
	if x.src.host {
		lo := netip.MustParseAddr("127.0.0.1")
		if x.want6 {
			lo = netip.IPv6Loopback()
		}
		x.r.add(Step{What: "name", Detail: fmt.Sprintf("host → %s (SRC is the host itself)", lo)})
		return target{addr: lo}, nil
	}
	for _, e := range x.src.eps {
		n := x.w.byName[e.Network]
		if n == nil {
			continue
		}
		v6 := x.want6 || !n.Gateway.IsValid()
		gw, dflt := n.Gateway, e.DefaultRoute
		if v6 {
			gw, dflt = n.Gateway6, e.DefaultRoute6
		}
		if gw.IsValid() && (dflt || len(x.src.eps) == 1) {
			x.r.add(Step{What: "name", Detail: fmt.Sprintf("host → %s (the gateway of network %s: the host as SRC sees it)", gw, n.Name)})
			return target{addr: gw}, nil
		}
	}
	if len(x.src.eps) == 0 {
		return target{}, fmt.Errorf("destination host: target %q is on no plumb network, so it has no gateway to the host", x.src.spec)
	}
	return target{}, fmt.Errorf("destination host: target %q is on networks %s and none holds its default route: give the gateway's address instead",
		x.src.spec, strings.Join(x.src.networks(), ", "))
}

// targetDst is the address of a target DST: its endpoint on a network
// SRC shares, else its first.
func (x *run) targetDst(ctx context.Context, spec string) (target, error) {
	_, eps, err := x.w.m.TargetEndpoints(ctx, spec)
	if err != nil {
		return target{}, targetError("DST", spec, err)
	}
	if len(eps) == 0 {
		return target{}, fmt.Errorf("destination %q is on no plumb network: give its address", spec)
	}
	pick := eps[0]
	for _, e := range eps {
		if slices.Contains(x.src.networks(), e.Network) {
			pick = e
			break
		}
	}
	a := x.addrOf(pick)
	if !a.IsValid() {
		return target{}, fmt.Errorf("destination %q has no IPv6 address on network %s (-6 asks for one)", spec, pick.Network)
	}
	x.r.add(Step{What: "name", Detail: fmt.Sprintf("target %s → %s (its endpoint on network %s)", spec, a, pick.Network)})
	return target{addr: a}, nil
}

// addrOf is e's address SRC aims at: its IPv6 one with x.want6 (invalid
// when it has none), else its IPv4 one, else its IPv6 one.
func (x *run) addrOf(e *network.Endpoint) netip.Addr {
	if x.want6 {
		return e.IP6.Addr()
	}
	return e.Addr()
}

// name resolves a name as SRC would: its hosts file, then the first
// nameserver of its resolv.conf. plumb's DNS (127.0.0.11, or a network's
// gateway) is answered from the daemon's records; any other nameserver is
// upstream, and is never asked.
func (x *run) name(name string) (target, error) {
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	getent := x.src.in("getent hosts " + name)
	hosts, hostsPath := x.src.hostsFile()
	if a, ok := lookupHosts(hosts, key, x.want6); ok {
		x.r.add(Step{What: "name", Detail: fmt.Sprintf("name %s → %s (hosts file %s)", name, a, hostsPath), Command: getent})
		return target{addr: a}, nil
	}
	rb, resolvPath := x.src.resolvFile()
	rc, _ := container.ParseResolvConf(bytes.NewReader(rb))
	if len(rc.Nameservers) == 0 {
		return target{}, fmt.Errorf("unresolvable name %q: not in %s, and %s names no nameserver", name, hostsPath, resolvPath)
	}
	ns := rc.Nameservers[0]
	scope, internal, ok := x.dnsScope(ns)
	if !ok {
		return x.upstream(name, getent, fmt.Sprintf("not in %s; asked of upstream %s (per %s): not queried (explain never queries upstream DNS)", hostsPath, ns, resolvPath)), nil
	}
	recs, note := x.records()
	for _, rec := range recs {
		if slices.Contains(scope, rec.Network) && matchRecord(rec, key) {
			a, err := x.recordAddr(rec)
			if err != nil {
				return target{}, err
			}
			x.r.add(Step{What: "name", Detail: fmt.Sprintf("name %s → %s (%s, network %s)%s", name, a, ns, rec.Network, note), Command: getent})
			return target{addr: a}, nil
		}
	}
	for _, rec := range recs {
		if matchRecord(rec, key) {
			a, _ := x.recordAddr(rec)
			fwd := "forwards the rest upstream"
			if internal {
				fwd = "answers NXDOMAIN for the rest (internal network)"
			}
			detail := fmt.Sprintf("name %s is not answered: it is on network %s (%s), which SRC is not on; %s answers SRC only with the names of %s and %s",
				name, rec.Network, a, ns, strings.Join(scope, ", "), fwd)
			x.r.add(Step{What: "name", Detail: detail, Result: "not found", Command: getent})
			x.r.decide(Blocked, fmt.Sprintf("name %s is on network %s, outside SRC's DNS scope (%s)", name, rec.Network, strings.Join(scope, ", ")))
			x.r.name, x.r.nameServer = name, ns
			return target{addr: a, stop: true}, nil
		}
	}
	if internal {
		x.r.add(Step{What: "name", Detail: fmt.Sprintf("name %s is not in %s nor in plumb's DNS for %s; %s answers NXDOMAIN for it (internal network)", name, hostsPath, strings.Join(scope, ", "), ns),
			Result: "not found", Command: getent})
		x.r.decide(Blocked, fmt.Sprintf("name %s is unknown to plumb's DNS, and SRC's networks are --internal: nothing is forwarded upstream", name))
		x.r.name, x.r.nameServer = name, ns
		return target{stop: true}, nil
	}
	return x.upstream(name, getent, fmt.Sprintf("not in %s nor in plumb's DNS for %s; forwarded upstream by %s (the daemon's upstream servers): not queried (explain never queries upstream DNS)",
		hostsPath, strings.Join(scope, ", "), ns)), nil
}

// upstream ends the path at a name only upstream DNS can resolve: explain
// never queries it, so the path beyond is not followed (NotFollowed).
func (x *run) upstream(name, getent, why string) target {
	x.r.add(Step{What: "name", Detail: "name " + name + ": " + why, Result: "not queried", Command: getent})
	x.r.decide(NotFollowed, "name "+name+" is resolved by upstream DNS, which explain never queries: the path beyond the host is not followed")
	x.r.upstream = true
	return target{stop: true}
}

// dnsScope tells whether nameserver ns is plumb's for SRC, and which
// networks it answers: 127.0.0.11 answers SRC's networks, a network's
// gateway its own network.
func (x *run) dnsScope(ns netip.Addr) (scope []string, internal, ok bool) {
	if ns == container.EmbeddedDNS && len(x.src.eps) > 0 {
		internal = true
		for _, name := range x.src.networks() {
			if n := x.w.byName[name]; n != nil && !n.Internal {
				internal = false
			}
		}
		return x.src.networks(), internal, true
	}
	for _, n := range x.w.nets {
		if n.Gateway == ns || (n.Gateway6.IsValid() && n.Gateway6 == ns) {
			return []string{n.Name}, n.Internal, true
		}
	}
	return nil, false, false
}

// records are the names the daemon serves; when it does not answer, the
// names the state directory gives (what it would serve), with a note.
func (x *run) records() ([]control.Record, string) {
	recs, err := x.w.m.DNSRecords("")
	if err == nil {
		return recs, ""
	}
	return x.w.m.StateDNSRecords(""), " [the daemon does not answer: " + err.Error() + "; names from the state directory]"
}

// recordAddr is the address of rec SRC's resolver would use: its A
// record, or its AAAA when it has no A or with x.want6. An error names a
// name with no address of the family asked for.
func (x *run) recordAddr(rec control.Record) (netip.Addr, error) {
	a4, _ := netip.ParseAddr(rec.IP)
	a6, _ := netip.ParseAddr(rec.IP6)
	switch {
	case x.want6 && !a6.IsValid():
		return netip.Addr{}, fmt.Errorf("name %q has no IPv6 address on network %s (plumb's DNS has only %s for it)", rec.Name, rec.Network, a4)
	case x.want6, !a4.IsValid():
		return a6, nil
	}
	return a4, nil
}

func matchRecord(rec control.Record, key string) bool {
	n := strings.ToLower(rec.Name)
	return n == key || n+"."+strings.ToLower(rec.Network) == key
}

// lookupHosts finds name in hosts(5) content: the first IPv4 line, else
// the first IPv6 one; with v6, the first IPv6 line only.
func lookupHosts(b []byte, name string, v6 bool) (netip.Addr, bool) {
	var first6 netip.Addr
	for line := range bytes.Lines(b) {
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Is4In6() || !slices.ContainsFunc(f[1:], func(h string) bool { return strings.EqualFold(h, name) }) {
			continue
		}
		switch {
		case a.Is4() && !v6:
			return a, true
		case a.Is6() && v6:
			return a, true
		case a.Is6() && !first6.IsValid():
			first6 = a
		}
	}
	return first6, first6.IsValid()
}
