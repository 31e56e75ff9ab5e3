package cni

import (
	"os"

	"github.com/plumbnet/plumb/network"
)

// Backend is what the plugin needs of plumb's model. *network.Manager is
// the real one; unit tests use a fake.
type Backend interface {
	AttachCNI(c network.CNINetwork, o network.CNIAttachOptions) (*network.CNIAttachment, error)
	DetachCNI(netName, containerID, ifname string) error
	CheckCNI(netName, containerID, ifname, netns string, exp network.CNIExpected) error
	GCCNI(netName string, valid []network.CNIAttachmentRef) error
	StatusCNI(c network.CNINetwork) error
}

var _ Backend = (*network.Manager)(nil)

// openManager is the production Plugin.Open: a Manager over stateDir
// (empty: $PLUMB_STATE_DIR, else network.DefaultStateDir) with the daemon's
// run directory from $PLUMB_RUN_DIR, as the CLI has them.
func openManager(stateDir string, dns bool) Backend {
	if stateDir == "" {
		stateDir = os.Getenv("PLUMB_STATE_DIR")
	}
	m := network.NewManager(stateDir)
	m.RunDir = os.Getenv("PLUMB_RUN_DIR")
	m.NoDNS = !dns
	return m
}
