package network

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/veth"
)

// Deleting a veth costs the kernel 15-30 ms, nearly all of it waiting for
// RCU grace periods (unregister_netdevice, then rcu_barrier before the
// device is freed) with no lock held that others need; taking it down costs
// 0.2 ms. So a CNI DEL takes the host end down, which cuts the container
// off at once, and hands the deletion to the daemon, which does it in the
// background. bench/ measures both.

// reapRequest asks the daemon to delete a link plumb is done with.
type reapRequest struct {
	Name  string `json:"name"`
	Index int    `json:"index"` // the link is deleted only if this index still has Name
	NetNS uint64 `json:"netns"` // inode of the namespace the link is in
}

// retireVeth takes the host end of a veth pair down, so nothing crosses it
// any more, and returns what the daemon needs to delete it later; nil when
// the link is gone already. Equivalent to: `ip link set NAME down`.
func retireVeth(name string) (*reapRequest, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		return nil, fmt.Errorf("finding veth %q: %w", name, err)
	}
	if err := netlink.LinkSetDown(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return nil, fmt.Errorf("taking veth %q down: %w", name, err)
	}
	return &reapRequest{Name: name, Index: l.Attrs().Index, NetNS: selfNetNS()}, nil
}

// selfNetNS is the inode of this process's network namespace, 0 if unknown.
func selfNetNS() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) != nil {
		return 0
	}
	return st.Ino
}

// daemonDownReap tells the daemon that ep is gone (its names stop
// resolving before this returns) and asks it to delete the retired veth r
// in the background. When no daemon runs, or it runs in another namespace,
// the veth is deleted here and now.
func (m *Manager) daemonDownReap(ep *Endpoint, r *reapRequest) error {
	rep, err := m.ask(daemonRequest{Op: "down", Endpoint: ep, Reap: r}, false)
	if err == nil {
		return nil
	}
	var errs []error
	// An answer with an error is the daemon refusing the reap alone (it
	// forgot ep all the same); no answer is no daemon, or a broken one.
	if rep == nil && !errors.Is(err, ErrDaemonNotRunning) {
		errs = append(errs, err)
	}
	if r != nil {
		if err := veth.Delete(r.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reaper deletes links in the background for the daemon.
type reaper struct {
	wg   sync.WaitGroup
	once sync.Once
	ino  uint64
}

// reap starts deleting r's link, if it is in the daemon's own namespace;
// otherwise it refuses, and the caller deletes the link itself.
func (rp *reaper) reap(r *reapRequest) error {
	rp.once.Do(func() { rp.ino = selfNetNS() })
	if r.NetNS == 0 || r.NetNS != rp.ino {
		return fmt.Errorf("reap %q: the link is in another network namespace than the daemon", r.Name)
	}
	rp.wg.Add(1)
	go func() {
		defer rp.wg.Done()
		// By index, checking the name: a link of the same name made since
		// (the same CNI attachment added again) has another index.
		l, err := netlink.LinkByIndex(r.Index)
		if err != nil || l.Attrs().Name != r.Name {
			return
		}
		_ = netlink.LinkDel(l)
	}()
	return nil
}

// wait returns once every deletion started has finished.
func (rp *reaper) wait() { rp.wg.Wait() }

// withoutCNIEnv is env without the CNI_* variables.
func withoutCNIEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "CNI_") {
			out = append(out, kv)
		}
	}
	return out
}
