package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/plumbnet/plumb/cluster"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/store"
)

// agent runs the cluster agent until SIGINT/SIGTERM.
func agent(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	url := storeFlag(fs)
	hostname, _ := os.Hostname()
	host := fs.String("host", hostname, "this host's name in the store")
	underlay := fs.String("underlay", "", "this host's underlay (VTEP) address")
	stateDir := fs.String("state-dir", network.DefaultStateDir, "plumb's state directory")
	runDir := fs.String("run-dir", "", "plumb's run directory")
	ttl := fs.Duration("ttl", 10*time.Second, "host lease TTL")
	bits := fs.Int("block-bits", 26, "size of the address blocks claimed")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	local, err := netip.ParseAddr(*underlay)
	if err != nil {
		return fmt.Errorf("--underlay %q: not an address", *underlay)
	}
	if *bits < 1 || *bits > 30 {
		return fmt.Errorf("--block-bits %d: want 1-30", *bits)
	}
	s, err := openRetrying(ctx, *url)
	if err != nil {
		return err
	}
	defer s.Close()
	return cluster.Run(ctx, cluster.Config{Store: s, Host: *host, Underlay: local,
		StateDir: *stateDir, RunDir: *runDir, TTL: *ttl, BlockBits: *bits})
}

// openRetrying opens the store, waiting for etcd to answer: the agent may
// start before it.
func openRetrying(ctx context.Context, url string) (*store.Store, error) {
	if _, err := store.ParseURL(url); err != nil || url == "" {
		return open(ctx, url, time.Second) // the one-line error
	}
	for {
		s, err := open(ctx, url, 5*time.Second)
		if err == nil || ctx.Err() != nil {
			return s, err
		}
		fmt.Fprintf(os.Stderr, "plumb-cluster: %v (retrying)\n", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
