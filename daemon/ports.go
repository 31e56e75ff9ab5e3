package daemon

import (
	"log"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/portmap"
)

// portHolder is the daemon's part that holds published host ports, by
// endpoint (control.Key), for as long as their mappings exist.
type portHolder struct{ h *portmap.Holder }

func newPortHolder() *portHolder { return &portHolder{h: portmap.NewHolder()} }

// hold binds reqs for key, replacing what key held.
func (p *portHolder) hold(key string, reqs []portmap.Request) ([]portmap.Mapping, error) {
	return p.h.Hold(key, reqs)
}

// release lets key's ports go.
func (p *portHolder) release(key string) { p.h.Release(key) }

// sync makes the holder hold exactly the recorded ports of eps' live
// endpoints: a daemon started again takes back every port it held, and a
// port whose endpoint is gone, or whose namespace is (a stale endpoint),
// is let go. A port it cannot take back is logged.
func (p *portHolder) sync(eps []*network.Endpoint) {
	want := map[string]bool{}
	for _, ep := range eps {
		if len(ep.Ports) == 0 || !ep.StaleSince.IsZero() || !ep.Alive() {
			continue
		}
		key := control.Key(ep.Network, ep.ID)
		want[key] = true
		if p.h.Held(key) != nil {
			continue
		}
		if _, err := p.h.Hold(key, portmap.Requests(portmap.Specs(ep.Ports))); err != nil {
			log.Printf("plumb daemon: endpoint %s: %v", key, err)
		}
	}
	for _, key := range p.h.Keys() {
		if !want[key] {
			p.h.Release(key)
		}
	}
}

func (p *portHolder) close() { p.h.Close() }
