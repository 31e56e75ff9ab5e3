package veth

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// Announce sends one gratuitous ARP request for addr from the interface
// name inside the network namespace at nsPath, with the interface's MAC as
// the sender's. Every host of the segment that has an entry for addr takes
// the MAC at once, among them one still looking addr up (an INCOMPLETE
// entry), which would otherwise send its next request only after its
// retransmit time, a second by default. Hosts without an entry create none
// (unless they set arp_accept). A re-attached peer calls it: clients that
// tried the address while it was gone reach it at once.
//
// Equivalent to: `ip netns exec NS arping -U -c 1 -I NAME ADDR`.
func Announce(nsPath, name string, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("announcing %s on %q: not an IPv4 address", addr, name)
	}
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		if len(ifc.HardwareAddr) != 6 {
			return fmt.Errorf("%q has no Ethernet address", name)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifc.Index, Halen: 6,
			Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		return unix.Sendto(fd, garp(ifc.HardwareAddr, addr), 0, to)
	})
	if err != nil {
		return fmt.Errorf("announcing %s on %q in %s: %w", addr, name, nsPath, err)
	}
	return nil
}

// garp is the ARP payload of a gratuitous request: sender and target
// address both addr, target MAC zero (RFC 5227's announcement).
func garp(mac net.HardwareAddr, addr netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // protocol: IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], 1) // request
	ip := addr.As4()
	copy(b[8:], mac)
	copy(b[14:], ip[:])
	copy(b[24:], ip[:])
	return b
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
