package nftables

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedNetScriptParses feeds the dry run's nft text of a first
// network with ports published on every address, one address and a
// loopback address, then of their deletion, to `nft -c -f -` (check
// mode: parsed and validated by the kernel, nothing changed) in a
// throwaway namespace: what a dry run prints must be what nft accepts.
func TestPrivilegedNetScriptParses(t *testing.T) {
	testutil.RequirePrivileged(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft command")
	}
	name := testutil.NewNetNS(t)
	st := newNetState()
	add := planEnsureAll(st, []firewall.Network{netA}, []firewall.Published{{Network: netA, Owner: "ep1", Ports: webA}})
	script, _ := renderNet(add)
	st.apply(add)
	del, _ := renderNet(planDeletePorts(st, "a", "ep1"))
	for _, s := range []string{script, script + del} {
		cmd := exec.Command("ip", "netns", "exec", name, "nft", "-c", "-f", "-")
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nft -c -f - rejects the dry run's script: %v\n%s\nscript:\n%s", err, out, s)
		}
	}
}
