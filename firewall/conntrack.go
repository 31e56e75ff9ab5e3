package firewall

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FlushUDP deletes the conntrack entries of UDP traffic to the host ports
// of ports, so that a datagram flow that was going to an old container (or
// nowhere) before the port was published or unpublished is matched against
// the new rules at once rather than after its timeout. TCP ports are left
// alone: a new TCP connection creates a new entry. It is the same whatever
// the backend: conntrack sits below iptables and nftables alike. Equivalent
// to `conntrack -D -p udp --orig-port-dst HOSTPORT` for each UDP port.
func FlushUDP(ports []Port) error {
	var filters []netlink.CustomConntrackFilter
	for _, p := range ports {
		if p.Proto != "udp" {
			continue
		}
		f := &netlink.ConntrackFilter{}
		if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
			return err
		}
		if err := f.AddPort(netlink.ConntrackOrigDstPort, p.HostPort); err != nil {
			return err
		}
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			if err := f.AddIP(netlink.ConntrackOrigDstIP, net.IP(p.HostIP.AsSlice())); err != nil {
				return err
			}
		}
		filters = append(filters, f)
	}
	if len(filters) == 0 {
		return nil
	}
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...); err != nil {
		return fmt.Errorf("flushing udp conntrack entries: %w", err)
	}
	return nil
}
