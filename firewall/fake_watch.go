package firewall

import "context"

var _ Watcher = (*Fake)(nil)

// Watch calls changed once when it starts, then after each change of the
// Fake's rules, until ctx ends (then nil), as the backends' Watch does:
// after each EnsureNetwork, DeleteNetwork, AddPorts, DeletePorts,
// EnsureLocalnetGuard and DeleteLocalnetGuard that changed something, and
// after Flush and Changed (a change by someone else). changed is called
// from Watch's goroutine, never from the method that changed the rules;
// changes that come before that goroutine got to the previous one are one
// call. FailNext("Watch", errors.ErrUnsupported) plays iptables-legacy.
func (f *Fake) Watch(ctx context.Context, changed func()) error {
	kick := make(chan struct{}, 1)
	f.mu.Lock()
	if err := f.begin("Watch"); err != nil {
		f.mu.Unlock()
		return err
	}
	if f.watchers == nil {
		f.watchers = map[chan struct{}]bool{}
	}
	f.watchers[kick] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.watchers, kick)
		f.mu.Unlock()
	}()
	changed()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
			changed()
		}
	}
}

// Changed tells every Watch that the rules changed, as another process's
// write would, without changing the Fake's state.
func (f *Fake) Changed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notify()
}

// Flush forgets every network, published port and localnet guard, and
// tells every Watch: what `iptables -F; iptables -X; iptables -t nat -F;
// iptables -t nat -X; nft flush ruleset` does to the backends.
func (f *Fake) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.nets)
	clear(f.ports)
	clear(f.guards)
	f.notify()
}

// notify wakes every Watch without waiting for it. The caller holds f.mu.
func (f *Fake) notify() {
	for kick := range f.watchers {
		select {
		case kick <- struct{}{}:
		default: // a wake-up is pending already: one call for both
		}
	}
}
