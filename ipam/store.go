package ipam

import "net/netip"

// Store keeps which addresses are reserved, and by whom. The Allocator calls
// it with the Store's lock held; Reserve must be atomic on its own
// (it is the arbiter when two processes race for one address).
type Store interface {
	// Lock takes the network-wide lock; Unlock releases it.
	Lock() error
	Unlock() error
	// Reserve records ip as owned by id. It returns false, nil when ip is
	// already reserved. It should make the reservation appear with its
	// owner in one step, so that a crash leaves no damaged reservation.
	Reserve(id string, ip netip.Addr) (bool, error)
	// Release frees ip. An address that is not reserved is not an error.
	Release(ip netip.Addr) error
	// Owner returns the id that reserved ip, and whether ip is reserved.
	// A reservation whose owner could not be read (empty or damaged file)
	// is reported as reserved with an empty owner.
	Owner(ip netip.Addr) (string, bool, error)
	// Reserved lists every reserved address.
	Reserved() ([]netip.Addr, error)
	// LastReserved is the address handed out last, or the zero Addr.
	LastReserved() netip.Addr
	// SetLastReserved records ip as the address handed out last.
	SetLastReserved(ip netip.Addr) error
	// Damaged reports whether ip is reserved with no owner that can be
	// read. Asked with the lock held it means "garbage, take it over":
	// every writer of reservations holds the lock, so none can still be
	// writing it.
	Damaged(ip netip.Addr) bool
}
