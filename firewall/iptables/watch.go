package iptables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/nfwatch"
)

var _ firewall.Watcher = (*Firewall)(nil)

// Watch calls changed after every change of the rules in the network
// namespace of the calling thread, until ctx ends (then nil): once when it
// listens, then once per nf_tables transaction, whoever commits it (an
// `iptables -F` however many rules it flushes, an iptables-restore, plumb's
// own writes, Docker's, `nft flush ruleset`). Every nftables table is
// covered, plumb's localnet guard table (inet plumb) included, so with
// iptables-nft this one Watch is enough for both. changed is called from
// Watch's goroutine and must not block. Equivalent to: `nft monitor`.
//
// Watch needs iptables-nft (`iptables --version` says "(nf_tables)"):
// iptables-legacy keeps its rules out of nf_tables and tells nobody of a
// change, and Watch returns an error wrapping errors.ErrUnsupported, as
// it does when the kernel refuses the notifications. The caller then
// polls (Snapshot).
func (f *Firewall) Watch(ctx context.Context, changed func()) error {
	nft, err := f.nftVariant()
	if err != nil {
		return fmt.Errorf("watching the iptables rules: %w", err)
	}
	if !nft {
		return fmt.Errorf("watching the iptables rules: iptables-legacy sends no notifications: %w", errors.ErrUnsupported)
	}
	if err := nfwatch.Watch(ctx, changed); err != nil {
		return fmt.Errorf("watching the iptables rules: %w", err)
	}
	return nil
}

// nftVariant reports whether iptables is iptables-nft.
func (f *Firewall) nftVariant() (bool, error) {
	if f.variant == nil {
		return false, fmt.Errorf("telling iptables-nft from iptables-legacy: no iptables binary: %w", errors.ErrUnsupported)
	}
	return f.variant()
}

// execVariant runs `iptables --version` and reports whether it names
// nf_tables ("iptables v1.8.9 (nf_tables)"); iptables-legacy says
// "(legacy)", and releases before 1.8 say neither.
func execVariant(path string) (bool, error) {
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("running %s --version: %w: %s", path, err, bytes.TrimSpace(out))
	}
	return bytes.Contains(out, []byte("(nf_tables)")), nil
}
