package explain

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/network"
)

// Explainer explains paths on the host of one state directory. Targets
// are resolved by M (Manager.TargetEndpoints), as attach, ps and inspect
// resolve them.
type Explainer struct {
	M *network.Manager
	// IPv6 makes DST's name, target or `host` resolve to its IPv6
	// address (AAAA), as `ping -6` would; an address DST is used as given.
	IPv6 bool
}

// run is one explanation under way.
type run struct {
	w      *world
	r      *Report
	src    *source
	dst    netip.Addr
	port   uint16
	proto  string
	missed bool // a rule of plumb's on the path is missing in the kernel
	want6  bool // resolve DST to its IPv6 address (Explainer.IPv6)
}

// Explain explains how SRC reaches DST (DST[:PORT][/tcp|udp]) and gives
// a verdict. It changes nothing on the host. An error is bad input (an
// unknown target, an unresolvable name, a malformed port) or an
// unreadable state directory, in one line naming it.
func (x *Explainer) Explain(ctx context.Context, src, dst string) (*Report, error) {
	d, err := ParseDst(dst)
	if err != nil {
		return nil, err
	}
	w, err := read(x.M)
	if err != nil {
		return nil, err
	}
	s, err := resolveSource(ctx, x.M, src)
	if err != nil {
		return nil, err
	}
	r := &Report{Src: src, Dst: dst, Port: d.Port, Proto: d.Proto, Steps: []Step{}, srcNS: s.nsPath, want6: x.IPv6}
	ru := &run{w: w, r: r, src: s, port: d.Port, proto: d.Proto, want6: x.IPv6}
	t, err := ru.resolveDst(ctx, d.Host)
	if err != nil {
		return nil, err
	}
	ru.dst = t.addr
	if t.addr.IsValid() {
		r.Address = t.addr.String()
	}
	r.nameBlocked = t.stop && !r.upstream
	if !t.stop {
		ru.path()
	}
	r.decide(Reachable, "")
	return r, nil
}

// drift records what the model wants in the kernel and is missing.
func (x *run) drift(what string) {
	x.r.Drift = append(x.r.Drift, what+" (plumb drift: the daemon repairs it; `plumb doctor --fix` too)")
}

// aim is DST:PORT/proto for messages ([DST]:PORT/proto for IPv6).
func (x *run) aim(a netip.Addr, port uint16) string {
	if port == 0 {
		return a.String()
	}
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(a, port), x.proto)
}

// v6 tells whether the packet explained is IPv6: DST is an IPv6 address.
func (x *run) v6() bool { return x.dst.Is6() }
