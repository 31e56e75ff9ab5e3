package main

import (
	"context"
	"fmt"
)

// portsNet is the network of the published-port attach test.
const (
	portsNet     = "ports"
	portsSubnet  = "10.239.0.0/16"
	portsPublish = "18000:80" // Docker's usual form: every host address
)

// portsAttach times what publishing one port adds to an attach: Samples
// times, the same namespace is attached without a port and detached, then
// attached with `-p 18000:80` and detached, the two orders alternating, so
// that both see the same machine at the same moments.
func (w *worker) portsAttach(ctx context.Context) error {
	if _, err := w.createNetwork(portsNet, portsSubnet); err != nil {
		return err
	}
	s := func(key, op string) *Series {
		return w.res.add(&Series{Key: key, Tool: "plumb", Op: op})
	}
	none := s("ports.attach.none", "attach netns:bt-i --net "+portsNet)
	one := s("ports.attach.one", "attach netns:bt-i --net "+portsNet+" -p "+portsPublish)
	dnone := s("ports.detach.none", "detach netns:bt-i (no port)")
	done := s("ports.detach.one", "detach netns:bt-i (one published port)")
	plain := func(i int) (Sample, error) { return w.attachTo(portsNet, i) }
	publish := func(i int) (Sample, error) {
		return w.plumb("attach", "netns:"+w.plan.target(i), "--net", portsNet, "-p", portsPublish)
	}
	for j := 1; j <= w.plan.Samples; j++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		order := []struct {
			att      func(int) (Sample, error)
			as, ds   *Series
			withPort bool
		}{{plain, none, dnone, false}, {publish, one, done, true}}
		if j%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, o := range order {
			a, err := o.att(j)
			if err != nil {
				return fmt.Errorf("attach (port %v): %w", o.withPort, err)
			}
			d, err := w.detach(j)
			if err != nil {
				return err
			}
			o.as.Samples = append(o.as.Samples, a)
			o.ds.Samples = append(o.ds.Samples, d)
		}
	}
	_, err := w.plumb("network", "rm", portsNet)
	return err
}
