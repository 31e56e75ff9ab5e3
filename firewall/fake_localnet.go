package firewall

import (
	"fmt"
	"maps"
	"slices"
)

var _ LocalnetGuard = (*Fake)(nil)

// EnsureLocalnetGuard records bridge as guarded.
func (f *Fake) EnsureLocalnetGuard(bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("EnsureLocalnetGuard", bridge); err != nil {
		return err
	}
	if err := ValidateBridge(bridge); err != nil {
		return fmt.Errorf("ensuring the localnet guard: %w", err)
	}
	if f.guards == nil {
		f.guards = map[string]bool{}
	}
	if !f.guards[bridge] {
		f.notify()
	}
	f.guards[bridge] = true
	return nil
}

// DeleteLocalnetGuard forgets bridge's guard, as the backend does: it
// refuses with ErrLocalnetOn while f.RouteLocalnet (when set) reports
// route_localnet on for bridge, and a guard that is not there is success.
func (f *Fake) DeleteLocalnetGuard(bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteLocalnetGuard", bridge); err != nil {
		return err
	}
	if err := ValidateBridge(bridge); err != nil {
		return fmt.Errorf("deleting the localnet guard: %w", err)
	}
	if f.RouteLocalnet != nil && f.RouteLocalnet(bridge) {
		return fmt.Errorf("deleting the localnet guard of %q: interface %q %w", bridge, bridge, ErrLocalnetOn)
	}
	if f.guards[bridge] {
		f.notify()
	}
	delete(f.guards, bridge)
	return nil
}

// CheckLocalnetGuard fails unless bridge is guarded. It changes nothing.
func (f *Fake) CheckLocalnetGuard(bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CheckLocalnetGuard", bridge); err != nil {
		return err
	}
	if err := ValidateBridge(bridge); err != nil {
		return fmt.Errorf("checking the localnet guard: %w", err)
	}
	if !f.guards[bridge] {
		return fmt.Errorf("localnet guard of bridge %q is not in place: bridge not guarded", bridge)
	}
	return nil
}

// Guarded returns the bridges whose localnet guard is in place, sorted.
func (f *Fake) Guarded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.guards))
}

// GuardedBridges is Guarded, as firewall.LocalnetGuard has it.
func (f *Fake) GuardedBridges() ([]string, error) { return f.Guarded(), nil }

// CheckLocalnetGuards is CheckLocalnetGuard for each of bridges.
func (f *Fake) CheckLocalnetGuards(bridges []string) (map[string]error, error) {
	out := map[string]error{}
	for _, br := range bridges {
		if err := f.CheckLocalnetGuard(br); err != nil {
			out[br] = err
		}
	}
	return out, nil
}
