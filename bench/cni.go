package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cniBridge is the bridge the CNI peer builds inside its host netns.
const cniBridge = "cni-b0"

// cniConf is the peer's network config, given on stdin as a runtime would.
const cniConf = `{"cniVersion":"1.0.0","name":"benchcni","type":"bridge","bridge":"` + cniBridge + `",` +
	`"isGateway":true,"ipMasq":true,` +
	`"ipam":{"type":"host-local","subnet":"10.241.0.0/16","dataDir":%q}}`

// cniTool is the CNI reference bridge plugin (with host-local IPAM) in the
// level benchmark, invoked the way a runtime does: the binary with the
// CNI_* environment and the config on stdin, ADD and DEL, run inside the
// peer's own host netns on its own target namespaces.
type cniTool struct {
	w      *worker
	ns     PeerNS
	run    *Runner
	conf   string
	filled int
}

func newCNITool(w *worker) *cniTool {
	ns := w.plan.peer("cni")
	return &cniTool{w: w, ns: ns, run: &Runner{Log: filepath.Join(w.plan.TmpDir, "cni.log"), Netns: netnsPath(ns.Host)}}
}

func (t *cniTool) key() string           { return "cni" }
func (t *cniTool) name() string          { return "CNI bridge+host-local" }
func (t *cniTool) ops() (string, string) { return "CNI_COMMAND=ADD", "CNI_COMMAND=DEL" }

func (t *cniTool) setup(ctx context.Context) error {
	t.conf = filepath.Join(t.w.plan.TmpDir, "cni.conf")
	if err := os.WriteFile(t.conf, []byte(fmt.Sprintf(cniConf, filepath.Join(t.w.plan.TmpDir, "cni"))), 0o644); err != nil {
		return err
	}
	t.w.cleanup.Push(func() {
		// Deleting the peer's netns would take it too; do it anyway.
		_, _ = sh("ip", "-n", t.ns.Host, "link", "del", cniBridge)
	})
	return nil
}

// call runs the plugin with command cmd on target namespace i.
func (t *cniTool) call(r *Runner, cmd string, i int) (Sample, error) {
	return r.Run(t.conf, []string{
		"CNI_COMMAND=" + cmd,
		fmt.Sprintf("CNI_CONTAINERID=bench-%d", i),
		"CNI_NETNS=" + netnsPath(t.ns.target(i)),
		"CNI_IFNAME=eth0",
		"CNI_PATH=" + t.w.plan.CNIDir,
	}, filepath.Join(t.w.plan.CNIDir, "bridge"))
}

func (t *cniTool) fillTo(ctx context.Context, n int) error {
	s := t.w.res.series("fill.cni", t.name(), "ADD while filling the network")
	if err := repeat(ctx, s, t.filled+1, n, func(i int) (Sample, error) { return t.call(t.run, "ADD", i) }); err != nil {
		return err
	}
	t.filled = max(t.filled, n)
	return nil
}

func (t *cniTool) attach(j int) (Sample, error) {
	return t.call(t.run, "ADD", t.w.plan.sampleBase()+j)
}

func (t *cniTool) detach(j int) (Sample, error) {
	return t.call(t.run, "DEL", t.w.plan.sampleBase()+j)
}

// teardown DELs every fill endpoint and notes what the plugin left behind.
func (t *cniTool) teardown() error {
	for i := 1; i <= t.filled; i++ {
		if _, err := t.call(t.run, "DEL", i); err != nil {
			return err
		}
	}
	t.w.res.note("CNI peer: after every DEL, %d CNI-* chains remain in the nat table of its host netns (removed with it)", cniChains(t.ns.Host))
	t.filled = 0
	_, err := sh("ip", "-n", t.ns.Host, "link", "del", cniBridge)
	return err
}

// cniChains counts the CNI-* chains of the nat table in netns host.
func cniChains(host string) int {
	out, err := sh("ip", "netns", "exec", host, "iptables-save", "-t", "nat")
	if err != nil {
		return -1
	}
	n := 0
	for _, l := range lines(out) {
		if strings.HasPrefix(l, ":CNI-") {
			n++
		}
	}
	return n
}
