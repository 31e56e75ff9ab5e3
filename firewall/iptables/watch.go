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
// namespace of the calling thread, whoever makes it, until ctx ends (then
// nil): once when it listens, then once per change. changed is called
// from Watch's goroutine and must not block.
//
// With iptables-nft (`iptables --version` says "(nf_tables)") a change is
// one nf_tables transaction, heard from the kernel's notifications: an
// `iptables -F` however many rules it flushes, an iptables-restore,
// plumb's own writes, Docker's, `nft flush ruleset`. Every nftables table
// is covered, plumb's localnet guard table (inet plumb) included, so this
// one Watch is enough for both. Equivalent to: `nft monitor`.
//
// iptables-legacy keeps its rules in x_tables, which notify nobody: there
// Watch polls, four times a second, the header of each legacy table
// (getsockopt IPT_SO_GET_INFO: about 10 µs a poll, where a full check
// costs 15 ms), and calls changed when a table's rule count, size or chain
// offsets changed since the last poll, or a table appeared or went. The
// one change it misses is a rule replaced by one of the same size
// (`iptables -R`): the caller's slow periodic full check covers it.
//
// The error wraps errors.ErrUnsupported when the backend cannot tell at
// all: the kernel refuses the notifications (or, legacy, the raw socket),
// or the variant of iptables is unknown. The caller then polls Snapshot.
func (f *Firewall) Watch(ctx context.Context, changed func()) error {
	nft, err := f.nftVariant()
	if err != nil {
		return fmt.Errorf("watching the iptables rules: %w", err)
	}
	if nft {
		err = nfwatch.Watch(ctx, changed)
	} else {
		err = watchLegacy(ctx, changed)
	}
	if err != nil {
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
