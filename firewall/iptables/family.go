package iptables

import (
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/firewall"
)

// errNoIP6tables is why a Firewall made without an ip6tables runner (the
// unit tests' newFirewall) cannot write IPv6 rules.
var errNoIP6tables = errors.New("no ip6tables")

// kernelHasIPv6 reports whether the network namespace of the calling
// thread has IPv6: /proc/sys/net/ipv6 is there (the kernel booted with
// ipv6.disable=1, or built without it, has none). A stat, no exec.
func kernelHasIPv6() bool {
	_, err := os.Stat("/proc/sys/net/ipv6")
	return err == nil
}

// has6 reports whether ip6tables can be used in the calling thread's
// namespace: its binaries were found and the kernel has IPv6. Where it
// cannot, no network has IPv6 rules, so the calls that do not know a
// network's families (DeleteNetwork, DeletePorts, Snapshot) skip
// ip6tables altogether.
func (f *Firewall) has6() bool {
	return f.run6 != nil && (f.ipv6 == nil || f.ipv6())
}

// runnerOf returns the runner of a family: ip6tables' when v6, with an
// error saying why when ip6tables cannot be used here.
func (f *Firewall) runnerOf(v6 bool) (runner, error) {
	if !v6 {
		return f.run, nil
	}
	switch {
	case f.run6 == nil:
		return nil, fmt.Errorf("IPv6 rules need ip6tables: %w", f.err6)
	case f.ipv6 != nil && !f.ipv6():
		return nil, fmt.Errorf("IPv6 rules need IPv6 in the kernel: /proc/sys/net/ipv6 is missing")
	}
	return f.run6, nil
}

// snapshotOf reads one family's ruleset once: `iptables-save` or
// `ip6tables-save`.
func (f *Firewall) snapshotOf(v6 bool) (*snapshot, error) {
	r, err := f.runnerOf(v6)
	if err != nil {
		return nil, err
	}
	out, err := r.save()
	if err != nil {
		return nil, err
	}
	s, err := parseSave(out)
	if err != nil {
		return nil, err
	}
	s.v6 = v6
	return s, nil
}

// write is one family's change: ops planned from s.
type write struct {
	s   *snapshot
	ops []op
}

// commit applies ws in order, one `iptables-restore --noflush` (or
// ip6tables-restore) each. When one fails, the ones already applied are
// undone (undoOps), so that a change across both families is all or
// nothing; the error wraps errRestore.
func (f *Firewall) commit(ws []write) error {
	for i, w := range ws {
		r, err := f.runnerOf(w.s.v6)
		if err == nil {
			err = r.restore(plan{ops: w.ops}.payload(), true)
		}
		if err != nil {
			errs := append([]error{err}, f.undo(ws[:i])...)
			return fmt.Errorf("%w: %w", errRestore, errors.Join(errs...))
		}
	}
	return nil
}

// undo takes back ws, applied, last first: one restore each or, should it
// fail, one command per op. It returns what could not be undone.
func (f *Firewall) undo(ws []write) []error {
	var errs []error
	for i := len(ws) - 1; i >= 0; i-- {
		r, err := f.runnerOf(ws[i].s.v6)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		u := undoOps(ws[i].s, ws[i].ops)
		if err := r.restore(plan{ops: u}.payload(), true); err == nil {
			continue
		}
		for _, o := range u {
			if err := r.apply(o); err != nil {
				errs = append(errs, fmt.Errorf("undoing the %s change: %w", binary(ws[i].s.v6), err))
			}
		}
	}
	return errs
}

// ensureFamilies reads the ruleset of each of fams and writes what n's
// rules of that family miss (planEnsure), all or nothing.
func (f *Firewall) ensureFamilies(n firewall.Network, fams []family) error {
	var ws []write
	for _, fm := range fams {
		s, err := f.snapshotOf(fm.v6)
		if err != nil {
			return err
		}
		p, err := planEnsure(s, n)
		if err != nil {
			return err
		}
		if len(p.ops) > 0 {
			ws = append(ws, write{s, p.ops})
		}
	}
	return f.commit(ws)
}

// readFamilies are the families a call that does not know a network's
// families reads: IPv4, and IPv6 where ip6tables can be used.
func (f *Firewall) readFamilies() []bool {
	if f.has6() {
		return []bool{false, true}
	}
	return []bool{false}
}
