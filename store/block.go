package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ClaimBlock claims for host the first free /bits block of the network's
// subnet (in address order) and returns it. Each claim is one transaction
// that creates blocks/<net>/<block> only if it is absent and the network
// still exists: two hosts racing for a block never both get it, the loser
// tries the next one. Blocks have no lease: a host keeps its blocks while
// it is down, and only RemoveHost or DeleteNetwork frees them. When every
// block is claimed it returns ErrNoBlock; ErrNotFound when the network is
// gone. The block holds the subnet's network address, broadcast address
// and gateway like any other address: the allocator inside it skips them.
func (s *Store) ClaimBlock(ctx context.Context, network, host string, subnet netip.Prefix, bits int) (netip.Prefix, error) {
	if err := checkBlock(network, host, subnet, bits); err != nil {
		return netip.Prefix{}, err
	}
	for {
		claimed, err := s.Blocks(ctx, network)
		if err != nil {
			return netip.Prefix{}, err
		}
		b, ok := firstFree(subnet, bits, claimed)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("network %q: %w: all %s /%d blocks of %s are claimed",
				network, ErrNoBlock, blockCount(subnet, bits), bits, subnet)
		}
		key := blocksPrefix(network) + b.String()
		resp, err := s.cli.Txn(ctx).
			If(absent(key), exists(networkKey(network))).
			Then(clientv3.OpPut(key, host)).
			Else(clientv3.OpGet(networkKey(network), clientv3.WithCountOnly())).
			Commit()
		if err != nil {
			return netip.Prefix{}, s.wrap(err)
		}
		if resp.Succeeded {
			return b, nil
		}
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return netip.Prefix{}, fmt.Errorf("network %q %w", network, ErrNotFound)
		}
	}
}

// checkBlock returns an ErrInvalid error naming the first bad argument of
// ClaimBlock.
func checkBlock(network, host string, subnet netip.Prefix, bits int) error {
	if err := checkName("network", network); err != nil {
		return err
	}
	if err := checkName("host", host); err != nil {
		return err
	}
	if !subnet.IsValid() || subnet != subnet.Masked() {
		return fmt.Errorf("network %q: %w subnet %s", network, ErrInvalid, subnet)
	}
	if bits < subnet.Bits() || bits > subnet.Addr().BitLen() {
		return fmt.Errorf("network %q: %w block size /%d: want /%d to /%d",
			network, ErrInvalid, bits, subnet.Bits(), subnet.Addr().BitLen())
	}
	return nil
}

// firstFree returns the first /bits block of subnet not in claimed. It
// looks at no more than len(claimed)+1 blocks.
func firstFree(subnet netip.Prefix, bits int, claimed map[netip.Prefix]string) (netip.Prefix, bool) {
	b := netip.PrefixFrom(subnet.Addr(), bits)
	for {
		if _, taken := claimed[b]; !taken {
			return b, true
		}
		next, ok := nextBlock(b)
		if !ok || !subnet.Contains(next.Addr()) {
			return netip.Prefix{}, false
		}
		b = next
	}
}

// nextBlock returns the block of the same size right after b; false when
// b is the last of its address family.
func nextBlock(b netip.Prefix) (netip.Prefix, bool) {
	a := b.Addr().As16()
	bit := b.Addr().BitLen() - b.Bits() // add 1 << bit
	off := 16 - b.Addr().BitLen()/8     // IPv4 lives in the last 4 bytes
	carry := byte(1) << (bit % 8)
	for i := 15 - bit/8; i >= off && carry != 0; i-- {
		sum := uint16(a[i]) + uint16(carry)
		a[i], carry = byte(sum), byte(sum>>8)
	}
	if carry != 0 || bit == b.Addr().BitLen() {
		return netip.Prefix{}, false
	}
	addr := netip.AddrFrom16(a)
	if b.Addr().Is4() {
		addr = addr.Unmap()
	}
	return netip.PrefixFrom(addr, b.Bits()), true
}

// blockCount returns how many /bits blocks subnet has, in words.
func blockCount(subnet netip.Prefix, bits int) string {
	if n := bits - subnet.Bits(); n < 63 {
		return fmt.Sprint(uint64(1) << n)
	}
	return fmt.Sprintf("2^%d", bits-subnet.Bits())
}

// Blocks returns the claimed blocks of the network and the host holding
// each.
func (s *Store) Blocks(ctx context.Context, network string) (map[netip.Prefix]string, error) {
	if err := checkName("network", network); err != nil {
		return nil, err
	}
	resp, err := s.cli.Get(ctx, blocksPrefix(network), clientv3.WithPrefix())
	if err != nil {
		return nil, s.wrap(err)
	}
	out := make(map[netip.Prefix]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if p, err := netip.ParsePrefix(strings.TrimPrefix(string(kv.Key), blocksPrefix(network))); err == nil {
			out[p] = string(kv.Value)
		}
	}
	return out, nil
}
