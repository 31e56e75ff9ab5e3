package main

import (
	"context"
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
	if n.Subnet, err = netip.ParsePrefix(*subnet); err != nil {
		return fmt.Errorf("--subnet %q: want an IPv4 CIDR such as 10.20.0.0/24", *subnet)
	}
	if *gateway != "" {
		if n.Gateway, err = netip.ParseAddr(*gateway); err != nil {
			return fmt.Errorf("--gateway %q: not an address", *gateway)
		}
	} else {
		n.Gateway = n.Subnet.Masked().Addr().Next()
	}
	s, err := open(ctx, *url, cmdTimeout)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	got, err := s.CreateNetwork(cctx, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s vni %d subnet %s gateway %s\n", got.Name, got.VNI, got.Subnet, got.Gateway)
	return nil
}

// networkLs lists the store's networks.
func networkLs(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("network ls", flag.ContinueOnError)
	url := storeFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := open(ctx, *url, cmdTimeout)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
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
	s, err := open(ctx, *url, cmdTimeout)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	if err := s.DeleteNetwork(cctx, pos[0], *force); err != nil {
		return err
	}
	fmt.Fprintln(out, pos[0])
	return nil
}

// hostLs lists the live hosts with their underlay address and the time
// their lease has left.
func hostLs(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("host ls", flag.ContinueOnError)
	url := storeFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := open(ctx, *url, cmdTimeout)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
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
}
