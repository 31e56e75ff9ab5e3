package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Host is a plumb host of the cluster: where its VXLAN traffic goes.
type Host struct {
	Name     string     `json:"name"`
	Underlay netip.Addr `json:"underlay"` // the VTEP address other hosts send to
	VTEPMAC  string     `json:"vtep_mac,omitempty"`

	// Lease is the etcd lease holding the record, as read (not stored).
	Lease int64 `json:"-"`
}

// Membership is a host's live record: Join puts it under a lease, and it
// stays while the Membership keeps the lease alive.
type Membership struct {
	s      *Store
	host   Host
	ttl    int64
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	lease clientv3.LeaseID
	alive bool // the keepalive stream of lease is open
}

// Join puts h's record (hosts/<name>) under a new lease of ttl (rounded up
// to whole seconds; etcd itself raises very short TTLs to about 2 s) and
// keeps the lease alive in the background until Close. When the keepalive
// fails for longer than the TTL (etcd unreachable) the record expires for
// everyone; the Membership then grants a new lease and puts the record
// again as soon as etcd answers. A record of the same name left by an
// earlier run of the host is taken over.
func (s *Store) Join(ctx context.Context, h Host, ttl time.Duration) (*Membership, error) {
	if err := checkName("host", h.Name); err != nil {
		return nil, err
	}
	if !h.Underlay.IsValid() {
		return nil, fmt.Errorf("host %q: %w underlay address", h.Name, ErrInvalid)
	}
	secs := int64(math.Ceil(ttl.Seconds()))
	if secs < 1 {
		secs = 1
	}
	m := &Membership{s: s, host: h, ttl: secs, done: make(chan struct{})}
	lease, err := m.put(ctx)
	if err != nil {
		return nil, err
	}
	m.lease = lease
	bg, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.run(bg, lease)
	return m, nil
}

// put grants a lease and puts the host record under it.
func (m *Membership) put(ctx context.Context) (clientv3.LeaseID, error) {
	b, err := json.Marshal(m.host)
	if err != nil {
		return 0, err
	}
	g, err := m.s.cli.Grant(ctx, m.ttl)
	if err != nil {
		return 0, m.s.wrap(err)
	}
	if _, err := m.s.cli.Put(ctx, hostKey(m.host.Name), string(b), clientv3.WithLease(g.ID)); err != nil {
		return 0, m.s.wrap(err)
	}
	return g.ID, nil
}

// run keeps lease alive; when the keepalive stream ends (the lease is gone
// or etcd was unreachable for a TTL) it joins again, until ctx ends.
func (m *Membership) run(ctx context.Context, lease clientv3.LeaseID) {
	defer close(m.done)
	for {
		if ch, err := m.s.cli.KeepAlive(ctx, lease); err == nil {
			m.setLease(lease, true)
			for range ch {
			}
		}
		m.setLease(lease, false)
		if ctx.Err() != nil {
			return
		}
		if lease = m.rejoin(ctx); lease == 0 {
			return
		}
	}
}

// rejoin retries put, backing off up to the TTL, until it succeeds (the
// new lease) or ctx ends (0).
func (m *Membership) rejoin(ctx context.Context) clientv3.LeaseID {
	wait := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, time.Duration(m.ttl)*time.Second)
		lease, err := m.put(actx)
		cancel()
		if err == nil {
			return lease
		}
		if m.s.cli.Ctx().Err() != nil {
			return 0 // the Store was closed under us: nobody to tell
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Duration(m.ttl)*time.Second)
	}
}

func (m *Membership) setLease(l clientv3.LeaseID, alive bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lease, m.alive = l, alive
}

// Alive reports whether the lease is being kept alive: false from the
// moment the keepalive gave up (etcd unreachable for a TTL, or the lease
// revoked) until the host is recorded again under a new lease.
func (m *Membership) Alive() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.alive
}

// Lease returns the lease currently holding the record.
func (m *Membership) Lease() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(m.lease)
}

// Close stops the keepalive and revokes the lease: the host's record is
// gone for every watcher at once (`etcdctl lease revoke`). Safe to
// repeat; the error says when etcd could not be told within 5 s (the
// record then expires with its TTL).
func (m *Membership) Close() error {
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.mu.Lock()
	lease := m.lease
	m.lease = 0
	m.mu.Unlock()
	if lease == 0 {
		return nil
	}
	if _, err := m.s.cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("host %q leaving: %w", m.host.Name, m.s.wrap(err))
	}
	return nil
}

// Hosts returns the live hosts (those whose lease holds), sorted by name.
func (s *Store) Hosts(ctx context.Context) ([]Host, error) {
	resp, err := s.cli.Get(ctx, Prefix+"hosts/", clientv3.WithPrefix())
	if err != nil {
		return nil, s.wrap(err)
	}
	var out []Host
	for _, kv := range resp.Kvs {
		var h Host
		if json.Unmarshal(kv.Value, &h) == nil {
			h.Lease = kv.Lease
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LeaseTTL returns how long h's lease has left before it expires unless
// kept alive (`etcdctl lease timetolive`); negative when it is gone.
func (s *Store) LeaseTTL(ctx context.Context, h Host) (time.Duration, error) {
	if h.Lease == 0 {
		return -1, nil
	}
	resp, err := s.cli.TimeToLive(ctx, clientv3.LeaseID(h.Lease))
	if err != nil {
		return 0, s.wrap(err)
	}
	return time.Duration(resp.TTL) * time.Second, nil
}
