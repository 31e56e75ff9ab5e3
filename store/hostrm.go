package store

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// txnBatch keeps a transaction under etcd's default --max-txn-ops (128).
const txnBatch = 100

// Removed counts what RemoveHost deleted.
type Removed struct {
	Host      bool // the hosts/ record was there (the host was live)
	Blocks    int
	Endpoints int
}

// RemoveHost deletes everything the host name holds in the store: its
// record, the address blocks it claimed in every network and the
// endpoints recorded on it (`plumb host rm`). It is meant for a host that
// is gone: a live host's daemon should leave (Membership.Close) first.
// Deletions are batched transactions, each guarded by the revisions it
// read (a record changed meanwhile is read again); safe to repeat.
func (s *Store) RemoveHost(ctx context.Context, name string) (Removed, error) {
	var r Removed
	if err := checkName("host", name); err != nil {
		return r, err
	}
	resp, err := s.cli.Delete(ctx, hostKey(name))
	if err != nil {
		return r, s.wrap(err)
	}
	r.Host = resp.Deleted > 0
	for {
		keys, err := s.heldBy(ctx, name)
		if err != nil || len(keys) == 0 {
			return r, err
		}
		for start := 0; start < len(keys); start += txnBatch {
			b, e, err := s.deleteGuarded(ctx, keys[start:min(start+txnBatch, len(keys))])
			if err != nil {
				return r, err
			}
			r.Blocks, r.Endpoints = r.Blocks+b, r.Endpoints+e
		}
	}
}

// held is one key a host holds, as read.
type held struct {
	key   string
	rev   int64
	block bool
}

// heldBy lists the block and endpoint keys recorded for host name.
func (s *Store) heldBy(ctx context.Context, name string) ([]held, error) {
	var out []held
	blocks, err := s.cli.Get(ctx, Prefix+"blocks/", clientv3.WithPrefix())
	if err != nil {
		return nil, s.wrap(err)
	}
	for _, kv := range blocks.Kvs {
		if string(kv.Value) == name {
			out = append(out, held{string(kv.Key), kv.ModRevision, true})
		}
	}
	eps, err := s.cli.Get(ctx, Prefix+"endpoints/", clientv3.WithPrefix())
	if err != nil {
		return nil, s.wrap(err)
	}
	for _, kv := range eps.Kvs {
		if endpointHost(kv) == name {
			out = append(out, held{string(kv.Key), kv.ModRevision, false})
		}
	}
	return out, nil
}

func endpointHost(kv *mvccpb.KeyValue) string {
	var e Endpoint
	if json.Unmarshal(kv.Value, &e) != nil {
		return ""
	}
	return e.Host
}

// deleteGuarded deletes keys in one transaction if none changed since it
// was read; it returns how many blocks and endpoints went (none when
// something changed: the caller reads again).
func (s *Store) deleteGuarded(ctx context.Context, keys []held) (blocks, endpoints int, err error) {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, k := range keys {
		cmps = append(cmps, unchanged(k.key, k.rev))
		ops = append(ops, clientv3.OpDelete(k.key))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, 0, fmt.Errorf("removing host records: %w", s.wrap(err))
	}
	if !resp.Succeeded {
		return 0, 0, nil
	}
	for _, k := range keys {
		if k.block {
			blocks++
		} else {
			endpoints++
		}
	}
	return blocks, endpoints, nil
}
