package firewall

import "context"

// Watcher is the optional interface of a backend that can tell when the
// host's rules change, so that a reconciler checks them when they change
// instead of every few seconds. Find it with a type assertion:
//
//	if w, ok := fw.(firewall.Watcher); ok { err = w.Watch(ctx, trigger) }
type Watcher interface {
	// Watch calls changed after any change of the host's rules in the
	// network namespace of the calling thread, anyone's change, until ctx
	// ends; then it returns nil. It calls changed once as soon as it
	// listens, too, so that a caller who checks on every call misses
	// nothing that changed before. changed must not block; Watch calls it
	// from one goroutine at a time, about once per change (an nf_tables
	// transaction, however many rules it touched), and the caller
	// coalesces. Watch returns an error wrapping errors.ErrUnsupported when
	// the backend cannot tell (the kernel refuses its notifications, say):
	// the caller then polls Snapshot. A backend without notifications may
	// poll something cheap itself (iptables-legacy: see
	// firewall/iptables), so a caller keeps a slow periodic full check
	// either way.
	Watch(ctx context.Context, changed func()) error
}
