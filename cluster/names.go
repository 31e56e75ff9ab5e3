package cluster

import (
	"maps"
	"slices"
	"strings"

	"github.com/plumbnet/plumb/network"
)

// names makes the remote endpoint records of net in the state directory
// (network.Manager.SetRemotes, which the daemon's name service serves)
// the endpoints of the other hosts that are live now: a host whose lease
// went loses its names at once, while its FDB and neighbour entries stay
// for Grace (program). What SetRemotes was last given is remembered, so a
// quiet round writes nothing; a failed one is tried again next round.
func (a *agent) names(net string) error {
	want := map[string]network.RemoteEndpoint{}
	for id, e := range a.w.endpoints[net] {
		if _, live := a.w.hosts[e.Host]; !live || e.Host == a.cfg.Host || !e.IP.IsValid() {
			continue
		}
		want[id] = network.RemoteEndpoint{ID: id, Host: e.Host, IP: e.IP.Addr(), MAC: e.MAC, Names: e.Names}
	}
	if have, ok := a.named[net]; ok && maps.EqualFunc(have, want, sameNames) {
		return nil
	}
	recs := slices.Collect(maps.Values(want))
	slices.SortFunc(recs, func(x, y network.RemoteEndpoint) int { return strings.Compare(x.ID, y.ID) })
	if err := a.m.SetRemotes(net, recs); err != nil {
		delete(a.named, net)
		return err
	}
	a.named[net] = want
	return nil
}

func sameNames(x, y network.RemoteEndpoint) bool {
	return x.Host == y.Host && x.IP == y.IP && x.MAC == y.MAC && slices.Equal(x.Names, y.Names)
}
