package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cniBridge is the bridge the CNI peer builds inside the host netns.
const cniBridge = "cni-b0"

// cniConf is the peer's network config, given on stdin as a runtime would.
const cniConf = `{"cniVersion":"1.0.0","name":"benchcni","type":"bridge","bridge":"` + cniBridge + `",` +
	`"isGateway":true,"ipMasq":true,` +
	`"ipam":{"type":"host-local","subnet":"10.241.0.0/16","dataDir":%q}}`

// cniPeer runs the CNI reference bridge plugin (with host-local IPAM) the
// way a runtime does, invoking the binary with the CNI_* environment and
// the config on stdin: ADD then DEL over the namespaces plumb used.
func (w *worker) cniPeer(ctx context.Context) error {
	p := w.plan
	if p.CNISkip != "" {
		w.res.note("CNI peer skipped: %s", p.CNISkip)
		logf("CNI peer skipped: %s", p.CNISkip)
		return nil
	}
	conf := filepath.Join(p.TmpDir, "cni.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(cniConf, filepath.Join(p.TmpDir, "cni"))), 0o644); err != nil {
		return err
	}
	w.cleanup.Push(func() {
		// Deleting the host netns would take these too; do it anyway.
		_, _ = sh("ip", "link", "del", cniBridge)
	})
	plugin := filepath.Join(p.CNIDir, "bridge")
	call := func(cmd string) func(i int) (Sample, error) {
		return func(i int) (Sample, error) {
			return w.run.Run(conf, []string{
				"CNI_COMMAND=" + cmd,
				fmt.Sprintf("CNI_CONTAINERID=bench-%d", i),
				"CNI_NETNS=" + netnsPath(p.target(i)),
				"CNI_IFNAME=eth0",
				"CNI_PATH=" + p.CNIDir,
			}, plugin)
		}
	}
	add := w.res.add(&Series{Key: "cni.add", Tool: "CNI bridge+host-local", Op: "CNI_COMMAND=ADD"})
	if err := repeat(ctx, add, 1, p.N, call("ADD")); err != nil {
		return err
	}
	del := w.res.add(&Series{Key: "cni.del", Tool: "CNI bridge+host-local", Op: "CNI_COMMAND=DEL"})
	if err := repeat(ctx, del, 1, p.N, call("DEL")); err != nil {
		return err
	}
	if out, err := sh("iptables-save", "-t", "nat"); err == nil {
		n := 0
		for _, l := range lines(out) {
			if strings.HasPrefix(l, ":CNI-") {
				n++
			}
		}
		w.res.note("CNI peer: after every DEL, %d CNI-* chains remain in the nat table of the host netns (removed with it)", n)
	}
	_, _ = sh("ip", "link", "del", cniBridge)
	return nil
}
