package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/plumbnet/plumb/internal/ip4"
)

// The netavark peer's network: podman's bridge driver, run by hand.
const (
	netavarkNet    = "benchnv"
	netavarkBridge = "nv-b0"
	netavarkCIDR   = "10.244.0.0/16"
)

// netavarkTool is netavark (podman's network stack) in the level benchmark:
// `netavark --config DIR setup NETNS` and `teardown NETNS`, with the
// network and the container's static address in the JSON on stdin, as
// podman calls it, inside the peer's own host netns on its own targets.
type netavarkTool struct {
	w      *worker
	ns     PeerNS
	run    *Runner
	dir    string
	filled int
}

func newNetavarkTool(w *worker) *netavarkTool {
	ns := w.plan.peer("netavark")
	return &netavarkTool{w: w, ns: ns, dir: filepath.Join(w.plan.TmpDir, "netavark"),
		run: &Runner{Log: filepath.Join(w.plan.TmpDir, "netavark.log"), Netns: netnsPath(ns.Host)}}
}

func (t *netavarkTool) key() string  { return "netavark" }
func (t *netavarkTool) name() string { return "netavark" }
func (t *netavarkTool) ops() (string, string) {
	return "netavark setup NETNS (static IP)", "netavark teardown NETNS"
}

// netavarkOpts is netavark's input: the container's networks and their
// definitions (podman's NetworkOptions).
type netavarkOpts struct {
	ContainerID   string                     `json:"container_id"`
	ContainerName string                     `json:"container_name"`
	Networks      map[string]netavarkPerNet  `json:"networks"`
	NetworkInfo   map[string]netavarkNetwork `json:"network_info"`
}

type netavarkPerNet struct {
	InterfaceName string   `json:"interface_name"`
	StaticIPs     []string `json:"static_ips"`
}

type netavarkNetwork struct {
	DNSEnabled       bool             `json:"dns_enabled"`
	Driver           string           `json:"driver"`
	ID               string           `json:"id"`
	Internal         bool             `json:"internal"`
	IPv6Enabled      bool             `json:"ipv6_enabled"`
	Name             string           `json:"name"`
	NetworkInterface string           `json:"network_interface"`
	Subnets          []netavarkSubnet `json:"subnets"`
}

type netavarkSubnet struct {
	Gateway string `json:"gateway"`
	Subnet  string `json:"subnet"`
}

// setup writes each target's JSON (untimed): target i gets the subnet's
// (i+1)-th address, the gateway being the first.
func (t *netavarkTool) setup(ctx context.Context) error {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	pfx := netip.MustParsePrefix(netavarkCIDR)
	gw := pfx.Addr().Next()
	for i := 1; i <= t.ns.N; i++ {
		ip := ip4.FromUint32(ip4.ToUint32(pfx.Addr()) + uint32(i+1))
		o := netavarkOpts{
			ContainerID:   fmt.Sprintf("%064x", i),
			ContainerName: t.ns.target(i),
			Networks:      map[string]netavarkPerNet{netavarkNet: {InterfaceName: "eth0", StaticIPs: []string{ip.String()}}},
			NetworkInfo: map[string]netavarkNetwork{netavarkNet: {
				Driver: "bridge", ID: fmt.Sprintf("%064x", 0xbe7c4), Name: netavarkNet,
				NetworkInterface: netavarkBridge,
				Subnets:          []netavarkSubnet{{Gateway: gw.String(), Subnet: pfx.String()}},
			}},
		}
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if err := os.WriteFile(t.conf(i), b, 0o644); err != nil {
			return err
		}
	}
	t.w.cleanup.Push(func() { _, _ = sh("ip", "-n", t.ns.Host, "link", "del", netavarkBridge) })
	return nil
}

func (t *netavarkTool) conf(i int) string { return filepath.Join(t.dir, fmt.Sprintf("%d.json", i)) }

// call runs `netavark --config DIR CMD /var/run/netns/bn-i < i.json`.
func (t *netavarkTool) call(cmd string, i int) (Sample, error) {
	return t.run.Run(t.conf(i), nil, t.w.plan.Netavark, "--config", filepath.Join(t.dir, "run"), cmd, netnsPath(t.ns.target(i)))
}

func (t *netavarkTool) fillTo(ctx context.Context, n int) error {
	s := t.w.res.series("fill.netavark", t.name(), "setup while filling the network")
	if err := repeat(ctx, s, t.filled+1, n, func(i int) (Sample, error) { return t.call("setup", i) }); err != nil {
		return err
	}
	t.filled = max(t.filled, n)
	return nil
}

func (t *netavarkTool) attach(j int) (Sample, error) {
	return t.call("setup", t.w.plan.sampleBase()+j)
}

func (t *netavarkTool) detach(j int) (Sample, error) {
	return t.call("teardown", t.w.plan.sampleBase()+j)
}

func (t *netavarkTool) teardown() error {
	for i := 1; i <= t.filled; i++ {
		if _, err := t.call("teardown", i); err != nil {
			return err
		}
	}
	t.filled = 0
	return nil
}
