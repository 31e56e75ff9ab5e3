package doctor

import "github.com/plumbnet/plumb/network"

// HostChecks looks at what on the host stands in plumb's way: its
// firewall and sysctls, for the networks plumb has.
func HostChecks(nets []*network.Network) []*Finding {
	return nil
}
