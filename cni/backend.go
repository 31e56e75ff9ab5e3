package cni

import (
	"context"
	"os"

	"github.com/plumbnet/plumb/network"
)

// Backend is what the plugin needs of plumb's model: network's exported
// core, which *network.Manager is; unit tests use a fake.
type Backend interface {
	Create(o network.CreateOptions) (*network.Network, error)
	AttachNamespace(ctx context.Context, t network.NamespaceTarget, o network.AttachOptions) (*network.Endpoint, *network.Network, error)
	DetachID(netName, id string) error
	Verify(netName, id, nsPath string, want network.Expect) error
	Collect(netName string, ours, keep func(id string) bool) error
	Status(name, bridge string, check func(*network.Network) error) error
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
