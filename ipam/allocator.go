package ipam

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrExhausted is returned when every address of the range is taken.
var ErrExhausted = errors.New("no free address")

// ErrTaken is returned for a static address that is already reserved.
var ErrTaken = errors.New("address already in use")

// ErrOutOfRange is returned for a static address that may not be handed out.
var ErrOutOfRange = errors.New("address not available in this network")

// probes is how many addresses Allocate tries one by one after the last
// handed-out address before it lists the whole reservation set instead.
// With sequential allocation the first probe almost always wins, so an
// allocation costs one file creation however full the network is; a
// fragmented network costs one directory read.
const probes = 8

// Allocator hands out addresses of one Range from a Store.
type Allocator struct {
	Range Range
	Store Store
}

// Allocate reserves an address for id and returns it. With a valid static
// address it reserves exactly that one, or fails with ErrOutOfRange or
// ErrTaken. Otherwise it reserves the next free address after the one handed
// out last, wrapping around, or fails with ErrExhausted. It holds the Store's
// lock for the duration.
//
// It never walks a whole IPv6 range: it tries the few addresses after the
// one handed out last, then lists the reservations once and walks at most
// as many addresses as there are reservations (plus a few). For IPv4 and
// IPv6 alike, what it costs depends on the reservations, not on the
// range's size.
func (a *Allocator) Allocate(id string, static netip.Addr) (netip.Addr, error) {
	if err := a.Store.Lock(); err != nil {
		return netip.Addr{}, err
	}
	defer a.Store.Unlock()

	if static.IsValid() {
		switch {
		case static == a.Range.Gateway:
			return netip.Addr{}, fmt.Errorf("%s: %w: it is the gateway", static, ErrOutOfRange)
		case static.Is6() && static == a.Range.Subnet.Addr():
			return netip.Addr{}, fmt.Errorf("%s: %w: it is the subnet-router anycast address of %s", static, ErrOutOfRange, a.Range.Subnet)
		case !a.Range.Subnet.Contains(static) || !a.Range.Contains(static):
			return netip.Addr{}, fmt.Errorf("%s: %w: outside the range %s-%s", static, ErrOutOfRange, a.Range.First, a.Range.Last)
		}
		ok, err := a.reserve(id, static)
		if err != nil {
			return netip.Addr{}, err
		}
		if !ok {
			return netip.Addr{}, fmt.Errorf("%s: %w", static, ErrTaken)
		}
		return static, nil
	}

	ip := a.Store.LastReserved()
	for i := 0; i < probes; i++ {
		ip = a.Range.next(ip)
		if !a.Range.Contains(ip) {
			continue
		}
		ok, err := a.reserve(id, ip)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return ip, a.Store.SetLastReserved(ip)
		}
	}
	return a.scan(id, ip)
}

// slack is how many addresses past the bound of scan's walk it tries more:
// room for reservations made outside the lock while it walks.
const slack = 8

// scan lists the reservations once and walks the range from after start
// for an address that is not among them. The walk is bounded by the
// reservations, never by the range's size: among len(used)+2 distinct
// addresses of the range at most len(used) are reserved and one is the
// gateway, so one is free. A full /24 costs what it did; an IPv6 /64 with
// n reservations costs at most n+2+slack steps.
func (a *Allocator) scan(id string, start netip.Addr) (netip.Addr, error) {
	used, err := a.Store.Reserved()
	if err != nil {
		return netip.Addr{}, err
	}
	taken := make(map[netip.Addr]struct{}, len(used))
	for _, u := range used {
		taken[u] = struct{}{}
	}
	steps := a.Range.Size()
	if bound := len(used) + 2 + slack; bound < steps {
		steps = bound
	}
	ip := start
	for i := 0; i < steps; i++ {
		ip = a.Range.next(ip)
		if !a.Range.Contains(ip) {
			continue
		}
		if _, ok := taken[ip]; ok && !a.Store.Damaged(ip) {
			continue
		}
		ok, err := a.reserve(id, ip)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return ip, a.Store.SetLastReserved(ip)
		}
	}
	if steps < a.Range.Size() { // only when reservations appear outside the lock
		return netip.Addr{}, fmt.Errorf("range %s-%s: %w after %d tries", a.Range.First, a.Range.Last, ErrExhausted, steps)
	}
	return netip.Addr{}, fmt.Errorf("range %s-%s: %w", a.Range.First, a.Range.Last, ErrExhausted)
}

// reserve reserves ip, taking over a damaged reservation at once: called
// with the Store's lock held, which every writer of reservations holds, it
// knows that no one can still be writing it (a writer killed after creating
// the file and before writing its owner, under a Reserve in two steps, or
// plain damage). A damaged reservation that cannot be removed (say, a
// directory with files in it) is skipped, as taken.
func (a *Allocator) reserve(id string, ip netip.Addr) (bool, error) {
	ok, err := a.Store.Reserve(id, ip)
	if err != nil || ok {
		return ok, err
	}
	if !a.Store.Damaged(ip) || a.Store.Release(ip) != nil {
		return false, nil
	}
	return a.Store.Reserve(id, ip)
}

// Release frees ip if id owns it; an address owned by someone else, or by
// nobody, is left alone and is not an error. An address whose owner cannot
// be read is freed.
func (a *Allocator) Release(id string, ip netip.Addr) error {
	if err := a.Store.Lock(); err != nil {
		return err
	}
	defer a.Store.Unlock()
	owner, ok, err := a.Store.Owner(ip)
	if err != nil || !ok {
		return err
	}
	if owner != "" && owner != id {
		return nil
	}
	return a.Store.Release(ip)
}

// ReleaseOwner frees every address reserved by id, for a caller that lost
// track of which one it was (a damaged endpoint record).
func (a *Allocator) ReleaseOwner(id string) error {
	return a.ReleaseIf(func(owner string) bool { return owner == id })
}

// Free counts the addresses of the range that are free, and the addresses
// reserved (in the range or not). For an IPv6 range bigger than math.MaxInt
// addresses (a /64) free is close to math.MaxInt: read it as "plenty".
// Equivalent to: `ls networks/NET/ips | wc -l`.
func (a *Allocator) Free() (free, used int, err error) {
	ips, err := a.Store.Reserved()
	if err != nil {
		return 0, 0, err
	}
	r := a.Range
	free = r.Size()
	if r.Gateway.IsValid() && r.First.Compare(r.Gateway) <= 0 && r.Gateway.Compare(r.Last) <= 0 {
		free-- // the gateway is inside the range but never handed out
	}
	for _, ip := range ips {
		if r.Contains(ip) {
			free--
		}
	}
	return max(free, 0), len(ips), nil
}

// Owners reads, under the Store's lock, every reservation and its owner
// id: "" for a damaged one (no owner can be read), which Allocate takes
// over by itself. A garbage collection compares the owners with the
// endpoint records; one with no record is an attach interrupted between
// reserving its address and recording the endpoint, which ReleaseIf frees.
// Equivalent to: `grep -r . networks/NET/ips`.
func (a *Allocator) Owners() (map[netip.Addr]string, error) {
	if err := a.Store.Lock(); err != nil {
		return nil, err
	}
	defer a.Store.Unlock()
	ips, err := a.Store.Reserved()
	if err != nil {
		return nil, err
	}
	owners := make(map[netip.Addr]string, len(ips))
	for _, ip := range ips {
		owner, ok, err := a.Store.Owner(ip)
		if err != nil {
			return nil, err
		}
		if ok {
			owners[ip] = owner
		}
	}
	return owners, nil
}

// ReleaseIf frees, under the Store's lock, every address whose owner
// orphan reports true: what a garbage collection of interrupted attaches
// finds. A damaged reservation (no owner can be read) is offered as owner
// "": no writer can still be writing it, so it is garbage too.
//
// orphan is called with the Store's lock held, but the caller must also
// keep attaches out while it decides (the network's lock): an attach that
// has reserved and not yet recorded its endpoint looks orphaned.
func (a *Allocator) ReleaseIf(orphan func(owner string) bool) error {
	if err := a.Store.Lock(); err != nil {
		return err
	}
	defer a.Store.Unlock()
	ips, err := a.Store.Reserved()
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range ips {
		if owner, ok, err := a.Store.Owner(ip); err == nil && ok && orphan(owner) {
			if err := a.Store.Release(ip); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
