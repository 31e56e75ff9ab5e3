package network

import (
	"context"
	"errors"
	"time"
)

// A stale endpoint is one whose namespace is gone: its container stopped
// or was restarted, its process exited, its netns was deleted. The daemon
// lets its published ports go at once (MarkStale), so that a host port is
// not sent to nothing, and keeps its address, names and ports in the
// record for a grace period, so that the target attached again (a
// restarted container: Repair) gets them all back, as Docker keeps a
// stopped container's. After the grace period the endpoint is detached
// (ExpireStale) and its address freed.

// MarkStale takes ep out of service when its namespace is gone: its
// published ports' rules and held host ports are let go, its names stop
// resolving, and the record, kept, says since when (StaleSince = now).
// Under the network's lock it reads the record again: it does nothing, and
// reports false, when the endpoint was detached, attached again, is alive
// or was marked already. Equivalent to: `iptables -t nat -D ...` for each
// of its ports, then the record rewritten.
func (m *Manager) MarkStale(ep *Endpoint, now time.Time) (bool, error) {
	return m.underRecord(ep, func(cur *Endpoint) (bool, error) {
		if !cur.StaleSince.IsZero() || cur.Alive() || cur.NetNSCookie != ep.NetNSCookie {
			return false, nil
		}
		if len(cur.Ports) > 0 {
			if err := m.unpublish(cur.Network, cur.ID, firewallPorts(cur)); err != nil {
				return false, err
			}
		}
		if err := m.daemon().Down(cur.Network, cur.ID); err != nil && !errors.Is(err, ErrDaemonNotRunning) {
			return false, err
		}
		cur.StaleSince = now
		return true, m.saveEndpoint(cur)
	})
}

// underRecord runs fn with ep's record as it is under its network's lock,
// read again there; an endpoint detached meanwhile is nothing to do
// (false, nil).
func (m *Manager) underRecord(ep *Endpoint, fn func(cur *Endpoint) (bool, error)) (bool, error) {
	nlock, err := m.lockNetwork(ep.Network)
	if err != nil {
		return false, err
	}
	defer nlock.Unlock()
	cur, err := m.Endpoint(ep.Network, ep.ID)
	if errors.Is(err, ErrNotAttached) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fn(cur)
}

// ExpireStale detaches ep when it has been stale (MarkStale) for grace or
// longer at now, freeing its address, and reports whether it did. Under
// the network's lock it reads the record again: an endpoint attached again
// meanwhile (its record rewritten, no longer stale) stays. Equivalent to:
// `plumb detach TARGET --net NETWORK`.
func (m *Manager) ExpireStale(ctx context.Context, ep *Endpoint, grace time.Duration, now time.Time) (bool, error) {
	return m.underRecord(ep, func(cur *Endpoint) (bool, error) {
		if cur.StaleSince.IsZero() || now.Sub(cur.StaleSince) < grace || cur.Alive() {
			return false, nil
		}
		return true, m.teardown(cur, nil)
	})
}
