package doctor

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/plumbnet/plumb/network"
)

// nftables reports whether plumb's networks use the nftables backend: the
// checks of plumb's jump in iptables' FORWARD do not apply then.
func (v *hostView) nftables() bool { return v.backend == network.FirewallNftables }

// checkCoexistence (nftables backend only) says what on the host drops
// plumb's traffic in a table of its own, out of reach of plumb's table: a
// drop in any base chain is final, whatever plumb's table accepts. An
// iptables FORWARD policy DROP (Docker's) and firewalld are met by the
// ACCEPT rules plumb's backend adds for its bridges where they decide;
// whether those are in place is each network's check (a problem of the
// network, repaired by --fix). These are notes: nothing to do.
// Equivalent to: `iptables -S FORWARD | head -1; pidof firewalld`.
func checkCoexistence(v *hostView) []*Finding {
	if !v.nftables() || len(v.nets) == 0 {
		return nil
	}
	var out []*Finding
	if v.ipt != nil && v.ipt.ForwardPolicy == "DROP" {
		out = append(out, &Finding{Check: "coexistence", Severity: Note, Subject: "iptables FORWARD",
			What:  "its policy is DROP (as Docker sets it) and plumb's networks are in nftables",
			Means: "iptables' drop would be final whatever plumb's table accepts, so plumb accepts its bridges' traffic in iptables too (DOCKER-USER, else FORWARD); a network whose ACCEPT rules are missing is reported above",
			Fix:   "nothing, while no network is reported; see them with `iptables -S DOCKER-USER; iptables -S FORWARD`"})
	}
	if v.firewalld {
		out = append(out, &Finding{Check: "coexistence", Severity: Note, Subject: "firewalld",
			What:  "it runs beside plumb's nftables table",
			Means: "firewalld's table drops what its zones do not allow, and a drop in any table is final: plumb's bridges must be let through there too; a network whose traffic firewalld drops is reported above",
			Fix:   "nothing, while no network is reported; see firewalld's view with `firewall-cmd --get-active-zones`"})
	}
	return out
}

// firewalldRuns reports whether a firewalld process runs. Equivalent to:
// `pidof firewalld`.
func firewalldRuns() bool {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && string(bytes.TrimSpace(b)) == "firewalld" {
			return true
		}
	}
	return false
}
