package explain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	mdns "github.com/miekg/dns"
)

// probeTimeout bounds one probe. It is shorter than a failed ARP
// resolution (3 s): a neighbour that never answers (isolated bridge ports,
// icc=false) reads as dropped, as explain says, not as "no route to host".
const probeTimeout = 2 * time.Second

// Probe sends one real connection from inside SRC to what Explain aimed
// at (TCP connect, or a UDP datagram and a wait for a reply or an ICMP
// error; a DNS query when the port is 53) and records whether it agrees
// with r's verdict. A name SRC could not resolve is probed as such: the
// probe fails as the name lookup would.
func (x *Explainer) Probe(ctx context.Context, r *Report) error {
	if r.Port == 0 {
		return fmt.Errorf("--probe needs a port: %q has none (DST:PORT)", r.Dst)
	}
	nsPath := r.srcNS
	if nsPath == "" {
		return fmt.Errorf("probe: the report of %s → %s was not made by Explain", r.Src, r.Dst)
	}
	if r.upstream {
		r.Probe = &Probe{Result: NotFollowed, Agrees: true,
			Detail: "not probed: the name would be asked of upstream DNS, which explain never queries"}
		return nil
	}
	target, _ := netip.ParseAddr(r.Address) // invalid: no address, the name probe finds it
	var p Probe
	if r.nameBlocked {
		var err error
		if target, p, err = lookupIn(nsPath, r.nameServer, r.name, r.want6); err != nil {
			return err
		}
	}
	if target.IsValid() {
		var err error
		if p, err = probeIn(nsPath, r.Proto, netip.AddrPortFrom(target, r.Port)); err != nil {
			return err
		}
	}
	p.Agrees = p.Result == r.Verdict || (p.silent && r.Verdict == Blocked)
	r.Probe = &p
	return nil
}

// CheckProbe tells, before anything is explained, whether DST can be
// probed: it must parse and name a port. The error is one line naming it.
func CheckProbe(dst string) error {
	d, err := ParseDst(dst)
	if err != nil {
		return err
	}
	if d.Port == 0 {
		return fmt.Errorf("--probe needs a port: %q has none (DST:PORT)", dst)
	}
	return nil
}

// lookupIn asks nameserver for name's A record (AAAA with v6) from
// inside nsPath, as SRC's resolver would. An invalid address comes with
// the probe's verdict: the name did not resolve.
func lookupIn(nsPath string, server netip.Addr, name string, v6 bool) (netip.Addr, Probe, error) {
	var got netip.Addr
	p := Probe{Result: Blocked}
	qtype := mdns.TypeA
	if v6 {
		qtype = mdns.TypeAAAA
	}
	q := func() error {
		m := new(mdns.Msg)
		m.SetQuestion(mdns.Fqdn(name), qtype)
		c := &mdns.Client{Timeout: probeTimeout}
		resp, _, err := c.Exchange(m, netip.AddrPortFrom(server, 53).String())
		if err != nil {
			p.Detail = fmt.Sprintf("name %s did not resolve in SRC: %v", name, err)
			return nil
		}
		for _, rr := range resp.Answer {
			switch a := rr.(type) {
			case *mdns.A:
				got, _ = netip.AddrFromSlice(a.A.To4())
				return nil
			case *mdns.AAAA:
				got, _ = netip.AddrFromSlice(a.AAAA.To16())
				return nil
			}
		}
		p.Detail = fmt.Sprintf("name %s did not resolve in SRC: %s from %s", name, mdns.RcodeToString[resp.Rcode], server)
		return nil
	}
	if nsPath == hostNS {
		return got, p, q()
	}
	n, err := ns.GetNS(nsPath)
	if err != nil {
		return got, p, fmt.Errorf("opening %s: %w", nsPath, err)
	}
	defer n.Close()
	return got, p, n.Do(func(ns.NetNS) error { return q() })
}

// probeIn runs the probe on a thread inside the namespace at nsPath.
func probeIn(nsPath, proto string, addr netip.AddrPort) (Probe, error) {
	var p Probe
	do := func() error { p = probe(proto, addr); return nil }
	if nsPath == hostNS {
		return p, do()
	}
	n, err := ns.GetNS(nsPath)
	if err != nil {
		return p, fmt.Errorf("opening %s: %w", nsPath, err)
	}
	defer n.Close()
	return p, n.Do(func(ns.NetNS) error { return do() })
}

// probe connects (tcp) or sends and waits (udp) and says what came back.
func probe(proto string, addr netip.AddrPort) Probe {
	d := net.Dialer{Timeout: probeTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	family := "4"
	if addr.Addr().Is6() {
		family = "6"
	}
	c, err := d.DialContext(ctx, proto+family, addr.String())
	if err != nil {
		return outcome(err)
	}
	defer c.Close()
	if proto == "tcp" {
		return Probe{Result: Reachable, Detail: "connected to " + addr.String()}
	}
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := c.Write(payload(addr.Port())); err != nil {
		return outcome(err)
	}
	buf := make([]byte, 1500)
	if _, err := c.Read(buf); err != nil {
		if isTimeout(err) && addr.Port() != 53 {
			return silentUDP(addr)
		}
		return outcome(err)
	}
	return Probe{Result: Reachable, Detail: "a reply from " + addr.String()}
}

// silentUDP is a UDP probe that got neither a reply nor an ICMP error.
// Only an ICMP error is conclusive for UDP: a listener that does not
// answer and a DROP look alike, so silence agrees with reachable and with
// blocked. (On port 53 the probe is a DNS query, which a DNS server always
// answers: there silence is a drop.)
func silentUDP(addr netip.AddrPort) Probe {
	return Probe{Result: Reachable, silent: true,
		Detail: fmt.Sprintf("no ICMP error; no reply from %s within %s (a silent listener and a DROP look alike)", addr, probeTimeout)}
}

// payload is what the UDP probe sends: a DNS query on port 53, so that a
// DNS server answers; a line otherwise.
func payload(port uint16) []byte {
	if port == 53 {
		m := new(mdns.Msg)
		m.SetQuestion("plumb-probe.", mdns.TypeA)
		b, _ := m.Pack()
		return b
	}
	return []byte("plumb explain probe\n")
}

// outcome maps a socket error to a verdict.
func outcome(err error) Probe {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Probe{Result: NoListener, Detail: "connection refused: " + err.Error()}
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return Probe{Result: NoRoute, Detail: err.Error()}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return Probe{Result: Blocked, Detail: fmt.Sprintf("no answer within %s (dropped)", probeTimeout)}
	}
	return Probe{Result: Blocked, Detail: err.Error()}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
