package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/plumbnet/plumb/store"
)

// cmdTimeout bounds a one-shot command's store requests.
const cmdTimeout = 10 * time.Second

// networkCreate records a network in the store; every host's agent makes
// it there.
func networkCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("network create", flag.ContinueOnError)
	url := storeFlag(fs)
	subnet := fs.String("subnet", "", "IPv4 subnet, e.g. 10.20.0.0/24")
	gateway := fs.String("gateway", "", "gateway address (default: the subnet's first)")
	mtu := fs.Int("mtu", 0, "MTU (default: each host's underlay MTU less 50)")
	internal := fs.Bool("internal", false, "no egress")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	n := store.Network{Name: pos[0], MTU: *mtu, Internal: *internal}
	if *subnet != "" {
		if n.Subnet, err = netip.ParsePrefix(*subnet); err != nil {
			return fmt.Errorf("--subnet %q: want an IPv4 CIDR such as 10.20.0.0/24", *subnet)
		}
	}
	if *gateway != "" {
		if n.Gateway, err = netip.ParseAddr(*gateway); err != nil {
			return fmt.Errorf("--gateway %q: not an address", *gateway)
		}
	}
	return withStore(ctx, *url, func(cctx context.Context, s *store.Store) error {
		if !n.Subnet.IsValid() {
			if n.Subnet, err = freeSubnet(cctx, s); err != nil {
				return err
			}
		}
		if !n.Gateway.IsValid() {
			n.Gateway = n.Subnet.Masked().Addr().Next()
		}
		got, err := s.CreateNetwork(cctx, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s vni %d subnet %s gateway %s\n", got.Name, got.VNI, got.Subnet, got.Gateway)
		return nil
	})
}

// freeSubnet is the first of 10.200.0.0/16 ... 10.254.0.0/16 that no
// network of the store overlaps: the subnet of an overlay network created
// without --subnet (room for 1024 blocks of /26). Two creates at once may
// pick the same one.
func freeSubnet(ctx context.Context, s *store.Store) (netip.Prefix, error) {
	nets, _, err := s.Networks(ctx)
	if err != nil {
		return netip.Prefix{}, err
	}
next:
	for b := 200; b < 255; b++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(b), 0, 0}), 16)
		for _, n := range nets {
			if n.Subnet.Overlaps(p) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, errors.New("no free /16 left in 10.200.0.0-10.254.255.255: give --subnet")
}

// hostRm removes a host that is gone from the store: its record, its
// blocks and its endpoints (store.RemoveHost).
func hostRm(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("host rm", flag.ContinueOnError)
	url := storeFlag(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return withStore(ctx, *url, func(cctx context.Context, s *store.Store) error {
		r, err := s.RemoveHost(cctx, pos[0])
		if err != nil {
			return err
		}
		if !r.Host && r.Blocks == 0 && r.Endpoints == 0 {
			return fmt.Errorf("host %q: not in the store", pos[0])
		}
		fmt.Fprintf(out, "%s: %d block(s), %d endpoint(s) removed\n", pos[0], r.Blocks, r.Endpoints)
		return nil
	})
}

// networkLs lists the store's networks.
func networkLs(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("network ls", flag.ContinueOnError)
	url := storeFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return withStore(ctx, *url, func(cctx context.Context, s *store.Store) error {
		nets, _, err := s.Networks(cctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tVNI\tSUBNET\tGATEWAY")
		for _, n := range nets {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", n.Name, n.VNI, n.Subnet, n.Gateway)
		}
		return w.Flush()
	})
}

// networkRm removes a network from the store; every agent removes it
// from its host.
func networkRm(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("network rm", flag.ContinueOnError)
	url := storeFlag(fs)
	force := fs.Bool("force", false, "remove it even with endpoints")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return withStore(ctx, *url, func(cctx context.Context, s *store.Store) error {
		if err := s.DeleteNetwork(cctx, pos[0], *force); err != nil {
			return err
		}
		fmt.Fprintln(out, pos[0])
		return nil
	})
}

// hostLs lists the live hosts with their underlay address and the time
// their lease has left.
func hostLs(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("host ls", flag.ContinueOnError)
	url := storeFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return withStore(ctx, *url, func(cctx context.Context, s *store.Store) error {
		hosts, err := s.Hosts(cctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tUNDERLAY\tLEASE")
		for _, h := range hosts {
			ttl, err := s.LeaseTTL(cctx, h)
			lease := fmt.Sprintf("alive, %s left", ttl.Round(time.Second))
			if err != nil {
				lease = "unknown: " + err.Error()
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", h.Name, h.Underlay, lease)
		}
		return w.Flush()
	})
}

// withStore opens the store at url, runs do with it and a context bounded
// by cmdTimeout, and closes it: every one-shot command's frame.
func withStore(ctx context.Context, url string, do func(ctx context.Context, s *store.Store) error) error {
	s, err := open(ctx, url, cmdTimeout)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	return do(cctx, s)
}
