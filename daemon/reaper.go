package daemon

import (
	"fmt"
	"sync"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/veth"
)

// Deleting a veth costs the kernel 15-30 ms, nearly all of it waiting for
// RCU grace periods (unregister_netdevice, then rcu_barrier before the
// device is freed) with no lock held that others need; taking it down and
// renaming it costs 0.3 ms. So detach and CNI DEL retire the pair
// (veth.Retire), which cuts the target off at once and frees the names,
// and hand the deletion to the reaper, which does it in the background.
// bench/ measures both.

// reaper deletes retired veths in the background, in the daemon's own
// network namespace only.
type reaper struct {
	wg  sync.WaitGroup
	ino uint64
}

func newReaper() *reaper { return &reaper{ino: control.SelfNetNS()} }

// reap starts deleting r's link, if it is in the daemon's own namespace;
// otherwise it refuses, and the caller deletes the link itself.
func (rp *reaper) reap(r control.Reap) error {
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
	list, err := veth.ListRetired()
	if err != nil {
		return
	}
	for _, r := range list {
		_ = rp.reap(control.Reap{Name: r.Name, Index: r.Index, NetNS: rp.ino})
	}
}

// wait returns once every deletion started has finished.
func (rp *reaper) wait() { rp.wg.Wait() }

// sweepNow is sweep, and returns once the pairs it found are deleted: a
// repair that attaches again must not find a retired peer still holding
// the address in the target (a detach or rm killed before its reap).
func (rp *reaper) sweepNow() {
	rp.sweep()
	rp.wait()
}
