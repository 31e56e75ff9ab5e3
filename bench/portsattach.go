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
	plain := attachVariant{what: "no port", attach: func(i int) (Sample, error) { return w.attachTo(portsNet, i) },
		as: s("ports.attach.none", "attach netns:bt-i --net "+portsNet), ds: s("ports.detach.none", "detach netns:bt-i (no port)")}
	publish := attachVariant{what: "one port",
		attach: func(i int) (Sample, error) {
			return w.plumb("attach", "netns:"+w.plan.target(i), "--net", portsNet, "-p", portsPublish)
		},
		as: s("ports.attach.one", "attach netns:bt-i --net "+portsNet+" -p "+portsPublish),
		ds: s("ports.detach.one", "detach netns:bt-i (one published port)")}
	if err := w.pairedRounds(ctx, w.plan.Samples, [2]attachVariant{plain, publish}); err != nil {
		return err
	}
	_, err := w.plumb("network", "rm", portsNet)
	return err
}

// attachVariant is one of two ways of attaching a target that
// pairedRounds takes in turns: the attach of target i, and the series its
// attach and its detach go to.
type attachVariant struct {
	what   string
	attach func(i int) (Sample, error)
	as, ds *Series
}

// pairedRounds takes n rounds: in round j, target j is attached one way and
// detached, then the other way and detached, which goes first alternating
// from round to round, so that both ways see the same machine at the same
// moments and sample k of one pairs with sample k of the other.
func (w *worker) pairedRounds(ctx context.Context, n int, v [2]attachVariant) error {
	for j := 1; j <= n; j++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		order := v
		if j%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, o := range order {
			a, err := o.attach(j)
			if err != nil {
				return fmt.Errorf("attach (%s): %w", o.what, err)
			}
			d, err := w.detach(j)
			if err != nil {
				return err
			}
			o.as.Samples = append(o.as.Samples, a)
			o.ds.Samples = append(o.ds.Samples, d)
		}
	}
	return nil
}
