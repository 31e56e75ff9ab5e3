package network

import (
	"errors"
	"slices"
	"sort"
	"strings"
)

// StrayHold is an endpoint whose host ports the daemon holds though no
// record of it publishes any.
type StrayHold struct{ Network, ID string }

// StrayHolds lists, of the endpoints whose host ports the daemon holds
// (held: control.Key NET/ID, as Served reports them), those with no
// record that publishes ports: what an attach -p killed after the daemon
// took its ports and before its record was written leaves (or one killed
// while it rolled back). No detach ever comes for them, and their ports
// stay taken from every other endpoint until the daemon restarts. It
// fails when the records cannot all be read (records): a hold of a record
// unread is no stray.
func (m *Manager) StrayHolds(held map[string]bool) ([]StrayHold, error) {
	recs, err := m.records()
	if err != nil {
		return nil, err
	}
	var out []StrayHold
	for key := range held {
		netName, id, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		if !slices.ContainsFunc(recs[netName], func(ep *Endpoint) bool { return ep.ID == id && len(ep.Ports) > 0 }) {
			out = append(out, StrayHold{Network: netName, ID: id})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Network < out[j].Network || out[i].Network == out[j].Network && out[i].ID < out[j].ID
	})
	return out, nil
}

// ReleaseStrayHold has the daemon let go of the host ports of s, if, under
// its network's lock, there is still no record of s with ports: an attach
// holds that lock from taking its ports to writing its record, so an
// attach in progress keeps its ports. Without the network (removed since,
// or a name no network can have) the ports go at once.
func (m *Manager) ReleaseStrayHold(s StrayHold) error {
	if ValidateName(s.Network) != nil {
		return m.daemon().Release(s.Network, s.ID)
	}
	nlock, err := m.lockNetwork(s.Network)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if nlock != nil {
		defer nlock.Unlock()
		if ep, err := m.Endpoint(s.Network, s.ID); err == nil && len(ep.Ports) > 0 {
			return nil
		}
	}
	return m.daemon().Release(s.Network, s.ID)
}
