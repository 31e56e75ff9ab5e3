package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// VNIBase is the first VNI CreateNetwork hands out (4096 + n): below it
// stay free for VXLANs a person makes by hand. MaxVNI is VXLAN's 24 bits.
const (
	VNIBase uint32 = 4096
	MaxVNI  uint32 = 1<<24 - 1
)

// Network is the cluster-wide record of one overlay network.
type Network struct {
	Name     string       `json:"name"`
	ID       string       `json:"id"`
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway,omitzero"`
	VNI      uint32       `json:"vni"`
	MTU      int          `json:"mtu,omitempty"`
	Internal bool         `json:"internal,omitempty"`
	Created  time.Time    `json:"created"`
}

// check returns an ErrInvalid error naming the first bad field of n.
func (n Network) check() error {
	if err := checkName("network", n.Name); err != nil {
		return err
	}
	switch {
	case !n.Subnet.IsValid() || n.Subnet != n.Subnet.Masked():
		return fmt.Errorf("network %q: %w subnet %q: want a network address/bits", n.Name, ErrInvalid, n.Subnet)
	case n.Gateway.IsValid() && !n.Subnet.Contains(n.Gateway):
		return fmt.Errorf("network %q: %w gateway %s: not in %s", n.Name, ErrInvalid, n.Gateway, n.Subnet)
	case n.VNI != 0 && (n.VNI < 1 || n.VNI > MaxVNI):
		return fmt.Errorf("network %q: %w VNI %d: want 1-%d", n.Name, ErrInvalid, n.VNI, MaxVNI)
	case n.MTU < 0:
		return fmt.Errorf("network %q: %w MTU %d", n.Name, ErrInvalid, n.MTU)
	}
	return nil
}

// CreateNetwork records n cluster-wide in one transaction that fails with
// ErrExists when the name is taken, and claims its VNI in the same
// transaction: n.VNI when set (ErrInUse if another network holds it),
// else the lowest free VNI from VNIBase up, retried when a concurrent
// create takes it first, so no two networks ever share one. An empty ID
// gets 64 random hex digits, a zero Created the current time. It returns
// the network as stored.
func (s *Store) CreateNetwork(ctx context.Context, n Network) (Network, error) {
	if err := n.check(); err != nil {
		return Network{}, err
	}
	if n.ID == "" {
		n.ID = randomID()
	}
	if n.Created.IsZero() {
		n.Created = time.Now().UTC().Truncate(time.Second)
	}
	for {
		v := n.VNI
		if v == 0 {
			free, err := s.freeVNI(ctx)
			if err != nil {
				return Network{}, err
			}
			v = free
		}
		done, err := s.tryCreate(ctx, n, v)
		if err != nil {
			return Network{}, err
		}
		if done {
			n.VNI = v
			return n, nil
		}
		if n.VNI != 0 {
			return Network{}, fmt.Errorf("network %q: VNI %d is %w by another network", n.Name, v, ErrInUse)
		}
	}
}

// tryCreate runs the create transaction once with VNI v. It returns false
// without an error when v was taken meanwhile.
func (s *Store) tryCreate(ctx context.Context, n Network, v uint32) (bool, error) {
	rec := n
	rec.VNI = v
	b, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	nk, vk := networkKey(n.Name), vniKey(v)
	resp, err := s.cli.Txn(ctx).
		If(absent(nk), absent(vk)).
		Then(clientv3.OpPut(nk, string(b)), clientv3.OpPut(vk, n.Name)).
		Else(clientv3.OpGet(nk, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return false, s.wrap(err)
	}
	if resp.Succeeded {
		return true, nil
	}
	if resp.Responses[0].GetResponseRange().Count > 0 {
		return false, fmt.Errorf("network %q %w", n.Name, ErrExists)
	}
	return false, nil
}

// freeVNI returns the lowest VNI from VNIBase up that no network claims.
func (s *Store) freeVNI(ctx context.Context) (uint32, error) {
	resp, err := s.cli.Get(ctx, Prefix+"vni/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, s.wrap(err)
	}
	used := make(map[uint32]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if v, err := strconv.ParseUint(strings.TrimPrefix(string(kv.Key), Prefix+"vni/"), 10, 32); err == nil {
			used[uint32(v)] = true
		}
	}
	for v := VNIBase; v <= MaxVNI; v++ {
		if !used[v] {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: every VNI from %d to %d is taken", ErrInUse, VNIBase, MaxVNI)
}

// randomID returns 64 random hex digits, like a Docker network id.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Network returns the record of the network name, or ErrNotFound.
func (s *Store) Network(ctx context.Context, name string) (Network, error) {
	resp, err := s.cli.Get(ctx, networkKey(name))
	if err != nil {
		return Network{}, s.wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return Network{}, fmt.Errorf("network %q %w", name, ErrNotFound)
	}
	var n Network
	if err := json.Unmarshal(resp.Kvs[0].Value, &n); err != nil {
		return Network{}, fmt.Errorf("network %q: bad record: %w", name, err)
	}
	return n, nil
}

// Networks returns every network, sorted by name, and the etcd revision
// they were read at (pass rev+1 to Watch to miss nothing after it). A
// record that does not decode is skipped.
func (s *Store) Networks(ctx context.Context) ([]Network, int64, error) {
	resp, err := s.cli.Get(ctx, Prefix+"networks/", clientv3.WithPrefix())
	if err != nil {
		return nil, 0, s.wrap(err)
	}
	var out []Network
	for _, kv := range resp.Kvs {
		var n Network
		if json.Unmarshal(kv.Value, &n) == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, resp.Header.Revision, nil
}

// DeleteNetwork removes the network name, its VNI claim and its blocks in
// one transaction. With endpoints still recorded it refuses with ErrInUse
// (the check is part of the transaction), unless force is set: then they
// go too. Removing a network that is not there is not an error.
func (s *Store) DeleteNetwork(ctx context.Context, name string, force bool) error {
	if err := checkName("network", name); err != nil {
		return err
	}
	for {
		n, rev, err := s.networkRev(ctx, name)
		if err != nil || rev == 0 {
			return err
		}
		cmps := []clientv3.Cmp{unchanged(networkKey(name), rev)}
		ops := []clientv3.Op{
			clientv3.OpDelete(networkKey(name)),
			clientv3.OpDelete(blocksPrefix(name), clientv3.WithPrefix()),
			clientv3.OpDelete(endpointsPrefix(name), clientv3.WithPrefix()),
		}
		if vrev, err := s.ownedVNI(ctx, n.VNI, name); err != nil {
			return err
		} else if vrev != 0 {
			cmps = append(cmps, unchanged(vniKey(n.VNI), vrev))
			ops = append(ops, clientv3.OpDelete(vniKey(n.VNI)))
		}
		if !force {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(endpointsPrefix(name)).WithPrefix(), "=", 0))
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).
			Else(clientv3.OpGet(endpointsPrefix(name), clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
		if err != nil {
			return s.wrap(err)
		}
		if resp.Succeeded {
			return nil
		}
		if c := resp.Responses[0].GetResponseRange().Count; !force && c > 0 {
			return fmt.Errorf("network %q is %w: %d endpoint(s) recorded on its hosts", name, ErrInUse, c)
		}
		// the record or its VNI claim changed meanwhile: read it again
	}
}

// networkRev returns the network's record and its mod revision (0 when
// there is none).
func (s *Store) networkRev(ctx context.Context, name string) (Network, int64, error) {
	resp, err := s.cli.Get(ctx, networkKey(name))
	if err != nil {
		return Network{}, 0, s.wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return Network{}, 0, nil
	}
	var n Network
	_ = json.Unmarshal(resp.Kvs[0].Value, &n) // a bad record is still removed
	return n, resp.Kvs[0].ModRevision, nil
}

// ownedVNI returns the mod revision of the claim on VNI v when it is the
// network name's, else 0.
func (s *Store) ownedVNI(ctx context.Context, v uint32, name string) (int64, error) {
	if v == 0 {
		return 0, nil
	}
	resp, err := s.cli.Get(ctx, vniKey(v))
	if err != nil {
		return 0, s.wrap(err)
	}
	if len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != name {
		return 0, nil
	}
	return resp.Kvs[0].ModRevision, nil
}
