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

// sync has the holder hold the recorded ports of eps' live endpoints: a
// daemon started again takes back every port it held, and relays again
// the IPv6 loopback ones to the endpoint's IPv6 address (portmap.Forward6). A port it cannot
// take back is logged. It lets nothing go: a hold with no record may be an
// attach in progress (it takes its ports before it writes its record), so
// holds go only under their network's lock: by detach, by MarkStale, and
// by the reconciler's release of stray holds (network.ReleaseStrayHold).
func (p *portHolder) sync(eps []*network.Endpoint) {
	for _, ep := range eps {
		if len(ep.Ports) == 0 || !ep.StaleSince.IsZero() || !ep.Alive() {
			continue
		}
		key := control.Key(ep.Network, ep.ID)
		if p.h.Held(key) != nil {
			continue
		}
		reqs := portmap.Forward6(portmap.Requests(portmap.Specs(ep.Ports)), ep.IP6.Addr())
		if _, err := p.h.Hold(key, reqs); err != nil {
			log.Printf("plumb daemon: endpoint %s: %v", key, err)
		}
	}
}

// keys is the set of the endpoints (control.Key) whose ports are held.
func (p *portHolder) keys() map[string]bool {
	out := map[string]bool{}
	for _, k := range p.h.Keys() {
		out[k] = true
	}
	return out
}

func (p *portHolder) close() { p.h.Close() }
