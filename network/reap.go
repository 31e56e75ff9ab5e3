package network

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/veth"
)

// Deleting a veth costs the kernel 15-30 ms, nearly all of it waiting for
// RCU grace periods (unregister_netdevice, then rcu_barrier before the
// device is freed) with no lock held that others need; taking it down and
// renaming it costs 0.3 ms. So detach and CNI DEL retire the pair
// (veth.Retire), which cuts the target off at once and frees the names,
// and hand the deletion to the daemon, which does it in the background.
// bench/ measures both.

// reapRequest asks the daemon to delete a link plumb is done with.
type reapRequest struct {
	Name  string `json:"name"`
	Index int    `json:"index"` // the link is deleted only if this index still has Name
	NetNS uint64 `json:"netns"` // inode of the namespace the link is in
}

// retireVeth retires the pair whose host end is name (veth.Retire: both
// ends down and renamed; the peer only when peerNS is an open handle) and
// returns what the daemon needs to delete it later; nil when the pair is
// gone already. When the host end cannot be retired, the pair is deleted
// here and now instead; when only the peer's step failed, deleting the
// retired host end still removes both ends, so that is no error.
func retireVeth(name string, peerNS netns.NsHandle, peerName string) (*reapRequest, error) {
	r, err := veth.Retire(name, peerNS, peerName)
	if r != nil {
		return &reapRequest{Name: r.Name, Index: r.Index, NetNS: selfNetNS()}, nil
	}
	if err != nil {
		if derr := veth.Delete(name); derr != nil {
			return nil, errors.Join(err, derr)
		}
	}
	return nil, nil
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
		if err := veth.DeleteRetired(&veth.Retired{Name: r.Name, Index: r.Index}); err != nil {
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
		_ = veth.DeleteRetired(&veth.Retired{Name: r.Name, Index: r.Index})
	}()
	return nil
}

// sweep reaps every retired pair left in the daemon's namespace: those a
// killed daemon was still deleting, or whose request never reached it.
func (rp *reaper) sweep() {
	links, err := netlink.LinkList()
	if err != nil {
		return
	}
	ino := selfNetNS()
	for _, l := range links {
		if veth.IsRetired(l) {
			_ = rp.reap(&reapRequest{Name: l.Attrs().Name, Index: l.Attrs().Index, NetNS: ino})
		}
	}
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
