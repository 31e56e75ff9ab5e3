package store

import (
	"context"
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Kind is what an Event is about.
type Kind int

// The kinds of Event. Resync replaces everything: see Watch.
const (
	NetworkPut Kind = iota + 1
	NetworkDelete
	HostPut
	HostDelete
	BlockPut
	BlockDelete
	EndpointPut
	EndpointDelete
	Resync
)

var kindNames = [...]string{"?", "network put", "network delete", "host put", "host delete",
	"block put", "block delete", "endpoint put", "endpoint delete", "resync"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return kindNames[0]
	}
	return kindNames[k]
}

// Event is one change of the store, at etcd revision Rev. Only the field
// of its kind is set: Network (also for blocks: Network.Name), Host,
// Endpoint, Block and BlockHost, or Snapshot. A delete carries the record
// as it was last (etcd's previous value) when etcd still has it, else
// only the names the key gives (Network.Name; Host.Name; Endpoint.Network
// and ID).
type Event struct {
	Kind      Kind
	Rev       int64
	Network   Network
	Host      Host
	Endpoint  Endpoint
	Block     netip.Prefix
	BlockHost string
	Snapshot  *Snapshot
}

// Snapshot is the whole store at one revision.
type Snapshot struct {
	Rev       int64
	Networks  []Network                          // by name
	Hosts     []Host                             // live ones, by name
	Blocks    map[string]map[netip.Prefix]string // network -> block -> host
	Endpoints []Endpoint                         // by network, then id
}

// Load reads the whole store in one request, so at one revision: what a
// daemon reads when it starts, before Watch(ctx, snap.Rev+1).
func (s *Store) Load(ctx context.Context) (*Snapshot, error) {
	resp, err := s.cli.Get(ctx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, s.wrap(err)
	}
	snap := &Snapshot{Rev: resp.Header.Revision, Blocks: map[string]map[netip.Prefix]string{}}
	for _, kv := range resp.Kvs {
		ev, ok := decode(kv, false)
		if !ok {
			continue
		}
		switch ev.Kind {
		case NetworkPut:
			snap.Networks = append(snap.Networks, ev.Network)
		case HostPut:
			snap.Hosts = append(snap.Hosts, ev.Host)
		case EndpointPut:
			snap.Endpoints = append(snap.Endpoints, ev.Endpoint)
		case BlockPut:
			if snap.Blocks[ev.Network.Name] == nil {
				snap.Blocks[ev.Network.Name] = map[netip.Prefix]string{}
			}
			snap.Blocks[ev.Network.Name][ev.Block] = ev.BlockHost
		}
	}
	sort.Slice(snap.Endpoints, func(i, j int) bool {
		a, b := snap.Endpoints[i], snap.Endpoints[j]
		return a.Network < b.Network || a.Network == b.Network && a.ID < b.ID
	})
	return snap, nil
}

// Watch delivers, in revision order, every change of the store from
// revision fromRev on (0: from now), until ctx ends; then it closes the
// channel. It survives etcd outages and a member losing its leader by
// watching again from the revision after the last one delivered. When
// that revision has been compacted away, the changes in between are lost:
// Watch then reads the whole store (Load) and delivers one Resync event
// carrying it, and goes on from there. A consumer treats Resync as "this
// is everything": whatever it holds that is not in the snapshot is gone.
func (s *Store) Watch(ctx context.Context, fromRev int64) <-chan Event {
	out := make(chan Event)
	go func() {
		defer close(out)
		rev := fromRev
		wait := 50 * time.Millisecond
		for ctx.Err() == nil {
			next, progressed := s.watchOnce(ctx, rev, out)
			if next < 0 {
				next = s.resync(ctx, out)
			}
			if next > 0 {
				rev = next
			}
			if progressed {
				wait = 50 * time.Millisecond
			}
			if !sleep(ctx, wait) {
				return
			}
			wait = min(2*wait, 2*time.Second)
		}
	}()
	return out
}

// watchOnce runs one etcd watch from rev (0: now) and sends its events. It
// returns the revision to go on from (0 when unknown, -1 when rev was
// compacted) and whether any response came.
func (s *Store) watchOnce(ctx context.Context, rev int64, out chan<- Event) (int64, bool) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithCreatedNotify()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	progressed := false
	for resp := range s.cli.Watch(wctx, Prefix, opts...) {
		progressed = true
		if resp.CompactRevision != 0 {
			return -1, true
		}
		if resp.Err() != nil {
			return rev, true
		}
		if rev == 0 {
			rev = resp.Header.Revision + 1
		}
		for _, e := range resp.Events {
			if ev, ok := decode(e.Kv, e.Type == mvccpb.DELETE); ok {
				if ev.Kind == NetworkDelete || ev.Kind == HostDelete || ev.Kind == EndpointDelete || ev.Kind == BlockDelete {
					ev = withPrev(ev, e.PrevKv)
				}
				if !send(ctx, out, ev) {
					return rev, true
				}
			}
			rev = e.Kv.ModRevision + 1
		}
	}
	return rev, progressed
}

// resync loads the store until it succeeds and sends it as a Resync event;
// it returns the revision to watch from (0 when ctx ended).
func (s *Store) resync(ctx context.Context, out chan<- Event) int64 {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		snap, err := s.Load(ctx)
		if err == nil {
			if !send(ctx, out, Event{Kind: Resync, Rev: snap.Rev, Snapshot: snap}) {
				return 0
			}
			return snap.Rev + 1
		}
		if !sleep(ctx, wait) {
			return 0
		}
	}
}

func send(ctx context.Context, out chan<- Event, ev Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleep waits d, or less when ctx ends first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// withPrev fills a delete event's record from the previous value, when
// etcd sent it.
func withPrev(ev Event, prev *mvccpb.KeyValue) Event {
	if prev == nil {
		return ev
	}
	full, ok := decode(prev, false)
	if !ok {
		return ev
	}
	full.Kind, full.Rev = ev.Kind, ev.Rev
	return full
}

// decode turns one key-value of the store into the put (or, with del, the
// delete) event it stands for; false for keys that are no record (vni/,
// unknown ones) and for records that do not decode.
func decode(kv *mvccpb.KeyValue, del bool) (Event, bool) {
	rest, ok := strings.CutPrefix(string(kv.Key), Prefix)
	if !ok {
		return Event{}, false
	}
	section, tail, _ := strings.Cut(rest, "/")
	ev := Event{Rev: kv.ModRevision}
	var err error
	switch section {
	case "networks":
		ev.Kind, ev.Network.Name = pick(del, NetworkPut, NetworkDelete), tail
		if !del {
			err = json.Unmarshal(kv.Value, &ev.Network)
		}
	case "hosts":
		ev.Kind, ev.Host.Name, ev.Host.Lease = pick(del, HostPut, HostDelete), tail, kv.Lease
		if !del {
			err = json.Unmarshal(kv.Value, &ev.Host)
		}
	case "endpoints":
		ev.Kind = pick(del, EndpointPut, EndpointDelete)
		ev.Endpoint.Network, ev.Endpoint.ID, _ = strings.Cut(tail, "/")
		if !del {
			err = json.Unmarshal(kv.Value, &ev.Endpoint)
		}
	case "blocks":
		ev.Kind = pick(del, BlockPut, BlockDelete)
		var cidr string
		ev.Network.Name, cidr, _ = strings.Cut(tail, "/")
		ev.Block, err = netip.ParsePrefix(cidr)
		ev.BlockHost = string(kv.Value)
	default:
		return Event{}, false
	}
	return ev, err == nil
}

func pick(del bool, put, delete Kind) Kind {
	if del {
		return delete
	}
	return put
}
