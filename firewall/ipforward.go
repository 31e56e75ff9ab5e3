package firewall

import "github.com/plumbnet/plumb/internal/sysctl"

// ipForward is the IPv4 forwarding switch of the caller's network namespace
// (the namespace of the calling thread when the file is opened).
const ipForward = "net/ipv4/ip_forward"

// EnableIPForward turns IPv4 forwarding on in the current network namespace
// and reports whether it was off before, so that the caller can record that
// plumb changed it and undo it with DisableIPForward when it removes its
// last network. Calling it when forwarding is on changes nothing and
// reports false. Equivalent to: `sysctl -w net.ipv4.ip_forward=1`.
func EnableIPForward() (changed bool, err error) {
	return sysctl.Ensure(ipForward, "1")
}

// DisableIPForward turns IPv4 forwarding off in the current network
// namespace. Call it only when EnableIPForward reported a change: forwarding
// may be on for Docker or for the host's own routing. Equivalent to:
// `sysctl -w net.ipv4.ip_forward=0`.
func DisableIPForward() error {
	_, err := sysctl.Ensure(ipForward, "0")
	return err
}

// ip6Forward is the IPv6 forwarding switch of the caller's network
// namespace. Turning it on makes every interface a router's: an interface
// with accept_ra=1 stops taking router advertisements (plumb doctor
// reports such interfaces).
const ip6Forward = "net/ipv6/conf/all/forwarding"

// EnableIP6Forward is EnableIPForward for IPv6. Equivalent to:
// `sysctl -w net.ipv6.conf.all.forwarding=1`.
func EnableIP6Forward() (changed bool, err error) {
	return sysctl.Ensure(ip6Forward, "1")
}

// DisableIP6Forward is DisableIPForward for IPv6. Equivalent to:
// `sysctl -w net.ipv6.conf.all.forwarding=0`.
func DisableIP6Forward() error {
	_, err := sysctl.Ensure(ip6Forward, "0")
	return err
}
