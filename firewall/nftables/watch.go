package nftables

import (
	"context"
	"fmt"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/nfwatch"
)

var _ firewall.Watcher = (*LocalnetGuard)(nil)

// Watch calls changed after every change of the nftables ruleset in the
// network namespace of the calling thread, until ctx ends (then nil): once
// when it listens, then once per nf_tables transaction, whoever commits it
// and whichever table it touches (`nft flush ruleset`, a deleted element
// of localnet_bridges, iptables-nft's tables too). It is what tells a
// reconciler that the guard may be gone even when the Firewall backend
// cannot (iptables-legacy); with iptables-nft, the Firewall's Watch sees
// the same transactions and one of the two is enough. changed is called
// from Watch's goroutine and must not block. The error wraps
// errors.ErrUnsupported when the kernel refuses the notifications.
// Equivalent to: `nft monitor`.
func (g *LocalnetGuard) Watch(ctx context.Context, changed func()) error {
	if err := nfwatch.Watch(ctx, changed); err != nil {
		return fmt.Errorf("watching the nftables ruleset: %w", err)
	}
	return nil
}
