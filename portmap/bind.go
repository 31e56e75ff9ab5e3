package portmap

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// twins groups the indexes of reqs that share one host port: an IPv4
// request with the first later IPv6 request alike in protocol, container
// port and host port range; every other request alone.
func twins(reqs []Request) [][]int {
	taken := make([]bool, len(reqs))
	var out [][]int
	for i, r := range reqs {
		if taken[i] {
			continue
		}
		group := []int{i}
		for j := i + 1; j < len(reqs) && !r.Is6(); j++ {
			o := reqs[j]
			if !taken[j] && o.Is6() && o.Proto == r.Proto && o.Port == r.Port &&
				o.HostPort == r.HostPort && o.HostPortEnd == r.HostPortEnd {
				taken[j] = true
				group = append(group, j)
				break
			}
		}
		out = append(out, group)
	}
	return out
}

// kernelPicks is how many ports the kernel may pick for a group before
// Hold gives up finding one free in every family.
const kernelPicks = 32

// bindGroup binds reqs[group...] on one host port: its one host port, the
// first of its range free for all, or (HostPort 0) one the kernel picks
// for the first that is free for the others too.
func bindGroup(reqs []Request, group []int) ([]heldPort, error) {
	r := reqs[group[0]]
	lo, hi := r.HostPort, r.HostPortEnd
	if hi < lo {
		hi = lo
	}
	var lastErr error
	for port := int(lo); port <= int(hi); port++ {
		tries := 1
		if port == 0 && len(group) > 1 {
			tries = kernelPicks
		}
		for ; tries > 0; tries-- {
			ps, err := bindAt(reqs, group, uint16(port))
			if err == nil {
				return ps, nil
			}
			lastErr = err
			if !errors.Is(err, ErrInUse) {
				return nil, err
			}
		}
	}
	if hi > lo {
		lastErr = fmt.Errorf("publishing %s-%d/%s: %w", hostPort(r.HostIP, lo), hi, r.Proto, errors.Unwrap(lastErr))
	}
	return nil, lastErr
}

// bindAt binds reqs[group...] on port, all on the port the first gets
// when port is 0; if one fails it unbinds the others.
func bindAt(reqs []Request, group []int, port uint16) ([]heldPort, error) {
	var out []heldPort
	for _, i := range group {
		r := reqs[i]
		p, err := bindOne(r.Proto, r.HostIP, port, r.Forward.IsValid())
		if err != nil {
			for _, o := range out {
				o.close()
			}
			return nil, fmt.Errorf("publishing %s/%s: %w", hostPort(r.HostIP, port), r.Proto, err)
		}
		p.Port = r.Port
		port = p.HostPort
		out = append(out, p)
	}
	return out, nil
}

// hostPort is "0.0.0.0:80" or "[::1]:80"; the zero ip is 0.0.0.0.
func hostPort(ip netip.Addr, port uint16) string {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, port).String()
}

// bindOne is `socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM)` +
// `bind(ip:port)`, IPV6_V6ONLY for IPv6, and SO_REUSEADDR for a TCP
// socket that will listen (relay): its listening keeps other binds off,
// and a port it relayed on can be held again while its closed
// connections linger in TIME_WAIT.
func bindOne(proto string, ip netip.Addr, port uint16, relay bool) (heldPort, error) {
	fd, sa, err := socketFor(proto, ip, port, relay)
	if err != nil {
		return heldPort{}, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			return heldPort{}, ErrInUse
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return heldPort{}, fmt.Errorf("%s is not an address of this host", ip)
		}
		return heldPort{}, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return heldPort{}, err
	}
	p := heldPort{fd: fd, Mapping: Mapping{Proto: proto, HostPort: port}}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		p.HostPort = uint16(a.Port)
	case *unix.SockaddrInet6:
		p.HostPort = uint16(a.Port)
	}
	if ip.Is6() || !ip.IsUnspecified() {
		p.HostIP = ip // :: stays, to say IPv6
	}
	return p, nil
}

// socketFor opens the socket for proto on ip's family, and the address
// to bind it to.
func socketFor(proto string, ip netip.Addr, port uint16, relay bool) (int, unix.Sockaddr, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	switch {
	case !ip.IsValid():
		sa = &unix.SockaddrInet4{Port: int(port)}
	case ip.Is6():
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Addr: ip.As16(), Port: int(port)}
	default:
		sa = &unix.SockaddrInet4{Addr: ip.As4(), Port: int(port)}
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	if family == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err == nil && relay && typ == unix.SOCK_STREAM {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, sa, nil
}
