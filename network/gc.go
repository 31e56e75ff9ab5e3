package network

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/veth"
)

// CNIAttachmentRef names a CNI attachment: a container id and an
// interface name, as in cni.dev/valid-attachments.
type CNIAttachmentRef struct {
	ContainerID string
	IfName      string
}

// GCCNI is a CNI GC of network netName: it releases every CNI attachment
// of the network that valid does not list (its veth, address, names and
// record), and never one that valid lists. It also frees what interrupted
// operations leaked: addresses owned by an unlisted CNI attachment that has
// no record, and ports of the bridge named like plumb's veths that no record
// of any endpoint owns. Endpoints attached with the CLI are not CNI
// attachments and are kept, and so are the network's config and lock
// files. A network that does not exist has nothing to collect.
func (m *Manager) GCCNI(netName string, valid []CNIAttachmentRef) error {
	n, unlock, err := m.lockExisting(netName)
	if n == nil || err != nil {
		return err
	}
	defer unlock()
	keep := map[string]bool{}
	for _, v := range valid {
		keep[CNIEndpointID(v.ContainerID, v.IfName)] = true
	}
	eps, err := m.Endpoints(netName)
	if err != nil {
		return err
	}
	var errs []error
	recorded := map[string]bool{} // ids with a record, after the GC
	vethOf := map[string]bool{}   // host veths accounted for: of the records left, or just handed to the daemon
	for _, ep := range eps {
		if ep.Kind == KindCNI && !keep[ep.ID] {
			if err := m.cniTeardown(n, ep); err != nil {
				errs = append(errs, err)
			}
			// Its veth is the daemon's to delete now (or gone already):
			// not a stray port below.
			vethOf[ep.HostVeth] = true
			continue
		}
		recorded[ep.ID] = true
		vethOf[ep.HostVeth] = true
	}
	for _, id := range m.damagedEndpoints(netName) {
		if strings.HasPrefix(id, "cni-") && !keep[id] {
			if err := m.clearDamaged(n, id); err != nil {
				errs = append(errs, err)
			}
		} else {
			recorded[id] = true
			vethOf[hostVethName(n, id)] = true
		}
	}
	orphans := map[string]bool{}
	if err := m.releaseOrphans(n, func(owner string) bool {
		o := strings.HasPrefix(owner, "cni-") && !keep[owner] && !recorded[owner]
		orphans[owner] = orphans[owner] || o
		return o
	}); err != nil {
		errs = append(errs, err)
	}
	for id := range orphans {
		if err := m.releasePorts(&Endpoint{Network: netName, ID: id}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteStrayPorts(n, vethOf); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gc of network %q: %w", netName, err)
	}
	return nil
}

// releaseOrphans frees every address of n whose owner orphan reports true.
func (m *Manager) releaseOrphans(n *Network, orphan func(owner string) bool) error {
	store, err := ipam.NewDiskStore(m.netDir(n.Name))
	if err != nil {
		return err
	}
	if err := store.Lock(); err != nil {
		return err
	}
	defer store.Unlock()
	ips, err := store.Reserved()
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range ips {
		if owner, ok, err := store.Owner(ip); err == nil && ok && orphan(owner) {
			if err := store.Release(ip); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deleteStrayPorts deletes the ports of n's bridge that are named like
// plumb's host veths ("veth" and 11 hex digits) and are not in owned: the
// veth of an attachment whose record is gone, when the daemon that was to
// delete it did not. A bridge that is missing has no ports to clean.
func deleteStrayPorts(n *Network, owned map[string]bool) error {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		if l.Attrs().MasterIndex != br.Attrs().Index || owned[name] || !plumbVethName(name) {
			continue
		}
		if _, ok := l.(*netlink.Veth); !ok {
			continue
		}
		if err := veth.Delete(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// plumbVethName reports whether name has the form hostVethName gives.
func plumbVethName(name string) bool {
	rest, ok := strings.CutPrefix(name, "veth")
	if !ok || len(rest) != 11 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
