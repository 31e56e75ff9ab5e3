package firewall

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/internal/name"
)

// Port is one published port: what reaches the host on HostIP:HostPort
// over Proto is sent to ContainerIP:ContainerPort, as `docker run -p` does.
type Port struct {
	Proto         string     // "tcp" or "udp"
	HostIP        netip.Addr // the zero Addr or 0.0.0.0: every address of the host
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// String is Docker's notation, "0.0.0.0:8080->80/tcp" or
// "[::]:8080->80/tcp" (container side as `docker ps` shows it).
func (p Port) String() string {
	return fmt.Sprintf("%s->%d/%s", netip.AddrPortFrom(p.hostIP(), p.HostPort), p.ContainerPort, p.Proto)
}

// Is6 reports whether p is an IPv6 mapping: its container address is IPv6.
func (p Port) Is6() bool { return p.ContainerIP.Is6() }

func (p Port) hostIP() netip.Addr {
	switch {
	case p.HostIP.IsValid():
		return p.HostIP
	case p.Is6():
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// ErrInvalidPort is wrapped by every error ValidatePort returns.
var ErrInvalidPort = errors.New("invalid port mapping")

// ValidatePort reports whether p can be turned into rules.
func ValidatePort(p Port) error {
	switch {
	case p.Proto != "tcp" && p.Proto != "udp":
		return fmt.Errorf("%w: protocol %q (want tcp or udp)", ErrInvalidPort, p.Proto)
	case p.HostPort == 0 || p.ContainerPort == 0:
		return fmt.Errorf("%w %s: port 0", ErrInvalidPort, p)
	case !p.ContainerIP.IsValid() || p.ContainerIP.Is4In6() || p.ContainerIP.Zone() != "":
		return fmt.Errorf("%w %s: container address %v", ErrInvalidPort, p, p.ContainerIP)
	case p.HostIP.IsValid() && p.HostIP.Is4() != p.ContainerIP.Is4():
		return fmt.Errorf("%w %s: host and container addresses are of different families", ErrInvalidPort, p)
	}
	return nil
}

// ownerOK, [A-Za-z0-9_.-]{1,64}, keeps an owner a single token in a rule
// comment.
func ownerOK(s string) bool { return len(s) >= 1 && len(s) <= 64 && name.Token(s) }

// ValidatePorts reports whether ports can be published for owner (an
// endpoint id: 1 to 64 bytes of [A-Za-z0-9_.-]) on the network named
// network, the checks AddPorts, DeletePorts (with no ports) and
// CheckEndpoint make before anything else. A bad name or owner wraps
// ErrInvalidNetwork, a bad port ErrInvalidPort.
func ValidatePorts(network, owner string, ports []Port) error {
	if err := ValidateName(network); err != nil {
		return fmt.Errorf("port rules of network %q: %w", network, err)
	}
	if !ownerOK(owner) {
		return fmt.Errorf("port rules of network %q: %w: owner %q", network, ErrInvalidNetwork, owner)
	}
	for _, p := range ports {
		if err := ValidatePort(p); err != nil {
			return err
		}
	}
	return nil
}
