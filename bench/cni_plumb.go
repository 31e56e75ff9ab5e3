package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The plumb network the CNI benchmark attaches to, made with the CLI
// before the first ADD (so no ADD pays for creating it), and its bridge.
const (
	cniNet       = "bench-cni"
	cniNetSubnet = "10.243.0.0/16"
	cniNetBridge = "pb-benchcni"
)

// plumbCNIConf is plumb's network config, given on stdin as a runtime
// would, in the cniVersion the reference peer gets.
const plumbCNIConf = `{"cniVersion":"1.0.0","name":"` + cniNet + `","type":"plumb","stateDir":%q}`

// plumbCNI runs plumb as a CNI plugin the way a runtime does, and the way
// cniPeer runs the reference plugins: the binary executed with the CNI_*
// environment and the config on stdin, ADD then DEL over the first n
// target namespaces. Each plumb call is followed at once by the same call
// of the reference bridge+host-local (container ref-i, interface eth1, its
// own bridge and subnet), so that the two see the same machine at the same
// moments: other work coming and going during the run (a shared machine)
// cannot favour either. plumb's DEL takes the host veth down and leaves its
// deletion to the daemon; before the reference's DEL the bench waits,
// untimed, for that deletion to finish, so the two never overlap.
func (w *worker) plumbCNI(ctx context.Context) error {
	p := w.plan
	if _, err := w.plumb("network", "create", cniNet, "--subnet", cniNetSubnet, "--bridge", cniNetBridge); err != nil {
		return err
	}
	w.cleanup.Push(func() { _, _ = w.plumb("network", "rm", "--force", cniNet) })
	conf := filepath.Join(p.TmpDir, "plumb-cni.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(plumbCNIConf, filepath.Join(p.TmpDir, "state"))), 0o644); err != nil {
		return err
	}
	refConf := filepath.Join(p.TmpDir, "cni-interleaved.conf")
	if p.CNISkip == "" {
		if err := os.WriteFile(refConf, []byte(fmt.Sprintf(cniConf, filepath.Join(p.TmpDir, "cni-interleaved"))), 0o644); err != nil {
			return err
		}
		w.cleanup.Push(func() { _, _ = sh("ip", "link", "del", cniBridge) })
	}
	call := func(cmd string, i int) (Sample, error) {
		return w.run.Run(conf, []string{
			"CNI_COMMAND=" + cmd,
			fmt.Sprintf("CNI_CONTAINERID=bench-%d", i),
			"CNI_NETNS=" + netnsPath(p.target(i)),
			"CNI_IFNAME=eth0",
			"CNI_PATH=" + filepath.Dir(p.Plumb),
			"PLUMB_RUN_DIR=" + p.runDir(),
		}, p.Plumb)
	}
	ref := func(cmd string, i int) (Sample, error) {
		return w.run.Run(refConf, []string{
			"CNI_COMMAND=" + cmd,
			fmt.Sprintf("CNI_CONTAINERID=ref-%d", i),
			"CNI_NETNS=" + netnsPath(p.target(i)),
			"CNI_IFNAME=eth1",
			"CNI_PATH=" + p.CNIDir,
		}, filepath.Join(p.CNIDir, "bridge"))
	}
	const refTool = "CNI bridge+host-local, interleaved"
	add := w.res.add(&Series{Key: "plumb.cni.add", Tool: "plumb (CNI plugin)", Op: "CNI_COMMAND=ADD"})
	refAdd := w.res.add(&Series{Key: "cni.i.add", Tool: refTool, Op: "CNI_COMMAND=ADD"})
	if err := repeat(ctx, add, 1, p.CNIN, func(i int) (Sample, error) {
		s, err := call("ADD", i)
		if err != nil || p.CNISkip != "" {
			return s, err
		}
		r, err := ref("ADD", i)
		refAdd.Samples = append(refAdd.Samples, r)
		return s, err
	}); err != nil {
		return err
	}
	del := w.res.add(&Series{Key: "plumb.cni.del", Tool: "plumb (CNI plugin)", Op: "CNI_COMMAND=DEL"})
	refDel := w.res.add(&Series{Key: "cni.i.del", Tool: refTool, Op: "CNI_COMMAND=DEL"})
	var lag []time.Duration
	if err := repeat(ctx, del, 1, p.CNIN, func(i int) (Sample, error) {
		s, err := call("DEL", i)
		if err != nil {
			return s, err
		}
		t0 := time.Now()
		if left, err := waitPorts(ctx, cniNetBridge, p.CNIN-i, 10*time.Second); err != nil || left > p.CNIN-i {
			return s, fmt.Errorf("the daemon did not delete the veth of bench-%d within 10 s (%d ports left): %v", i, left, err)
		}
		lag = append(lag, time.Since(t0))
		if p.CNISkip != "" {
			return s, nil
		}
		r, err := ref("DEL", i)
		refDel.Samples = append(refDel.Samples, r)
		return s, err
	}); err != nil {
		return err
	}
	slices.Sort(lag)
	w.res.note("plumb CNI: each DEL took the host veth down and left its deletion to the daemon, which had deleted it %s (median; max %s) after the DEL returned", ms(lag[len(lag)/2]), ms(lag[len(lag)-1]))
	if p.CNISkip == "" {
		if _, err := sh("ip", "link", "del", cniBridge); err != nil {
			return err
		}
	}
	_, err := w.plumb("network", "rm", cniNet)
	return err
}

// waitNoPorts waits until bridge has no port left, or timeout, and
// returns how many are left.
func waitNoPorts(ctx context.Context, bridge string, timeout time.Duration) (int, error) {
	return waitPorts(ctx, bridge, 0, timeout)
}

// waitPorts waits until bridge has at most n ports, or timeout, and
// returns how many it has. Equivalent to polling `ip -o link show master
// BRIDGE`.
func waitPorts(ctx context.Context, bridge string, n int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := sh("ip", "-o", "link", "show", "master", bridge)
		if err != nil {
			return 0, err
		}
		left := len(lines(out))
		if left <= n || time.Now().After(deadline) {
			return left, nil
		}
		select {
		case <-ctx.Done():
			return left, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// cniDelFloors times, with the ip binary, the ways a DEL could get rid of a
// veth pair whose host end is on a bridge and whose peer is in a target
// namespace: taking the host end down (what plumb's DEL does, leaving the
// deletion to its daemon), deleting the peer from inside its namespace,
// and deleting the whole namespace with the pair in it (the kernel then
// frees the pair in the background). The plain `ip link del` of the host
// end is kernelFloor's floor.ipdel row.
func (w *worker) cniDelFloors(ctx context.Context) error {
	const br = "bfloorc0"
	if _, err := sh("ip", "link", "add", br, "up", "type", "bridge"); err != nil {
		return err
	}
	w.cleanup.Push(func() { _, _ = sh("ip", "link", "del", br) })
	host := func(i int) string { return fmt.Sprintf("kc%d", i) }
	mk := func(i int, ns string) error {
		_, err := sh("ip", "link", "add", host(i), "master", br, "up", "type", "veth", "peer", "name", "kc0", "netns", ns)
		return err
	}

	down := w.res.add(&Series{Key: "floor.ipdown", Tool: "ip", Op: "ip link set vethX down (peer in bt-i)"})
	if err := repeat(ctx, down, 1, floorRuns, func(i int) (Sample, error) {
		if err := mk(i, w.plan.target(i)); err != nil {
			return Sample{}, err
		}
		s, err := w.run.Run("", nil, "ip", "link", "set", host(i), "down")
		_, _ = sh("ip", "link", "del", host(i))
		return s, err
	}); err != nil {
		return err
	}

	peer := w.res.add(&Series{Key: "floor.ipdel.peer", Tool: "ip", Op: "ip -n bt-i link del eth0 (the peer, from inside)"})
	if err := repeat(ctx, peer, 1, floorRuns, func(i int) (Sample, error) {
		if err := mk(i, w.plan.target(i)); err != nil {
			return Sample{}, err
		}
		return w.run.Run("", nil, "ip", "-n", w.plan.target(i), "link", "del", "kc0")
	}); err != nil {
		return err
	}

	nsdel := w.res.add(&Series{Key: "floor.netnsdel", Tool: "ip", Op: "ip netns del NS (the pair's peer inside)"})
	if err := repeat(ctx, nsdel, 1, floorRuns, func(i int) (Sample, error) {
		ns := fmt.Sprintf("plumb-bench-%d-kc%d", os.Getpid(), i)
		if err := addNetns(ns); err != nil {
			return Sample{}, err
		}
		w.cleanup.Push(func() { _ = delNetns(ns) })
		if err := mk(i, ns); err != nil {
			return Sample{}, err
		}
		return w.run.Run("", nil, "ip", "netns", "del", ns)
	}); err != nil {
		return err
	}
	// The kernel frees those pairs in the background: wait, so the next
	// step does not share the machine with it.
	if left, err := waitNoPorts(ctx, br, time.Minute); err != nil || left > 0 {
		return fmt.Errorf("%d ports left on %s after the netns deletions: %v", left, br, err)
	}
	_, err := sh("ip", "link", "del", br)
	return err
}

// cniTargets writes the CNI rows of the targets table.
func (r *Report) cniTargets(b *strings.Builder) {
	res := r.Results
	ratio := func(name string, a, peer *Series, limit float64) {
		if a == nil || peer == nil || len(a.Samples) == 0 || len(peer.Samples) == 0 {
			fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
			return
		}
		x, y := a.Summarize().P50, peer.Summarize().P50
		q := float64(x) / float64(y)
		fmt.Fprintf(b, "| %s | %.2fx (%s / %s) | %s |\n", name, q, ms(x), ms(y), verdict(q <= limit))
	}
	ratio("plumb CNI ADD p50 <= 0.25x the reference bridge+host-local ADD (interleaved)", res.get("plumb.cni.add"), res.get("cni.i.add"), 0.25)
	ratio("plumb CNI DEL p50 <= 0.2x the reference DEL (interleaved)", res.get("plumb.cni.del"), res.get("cni.i.del"), 0.2)
}

// cniSection writes the CNI tables.
func (r *Report) cniSection(b *strings.Builder) {
	res := r.Results
	fmt.Fprintf(b, "\n## CNI: plumb as a plugin against the reference bridge+host-local, %d namespaces, ADD then DEL\n\n", r.Plan.CNIN)
	fmt.Fprintf(b, "Both are executed as a runtime does (CNI_* environment, config on stdin), interleaved: each plumb call on namespace i is followed at once by the same call of the reference on i (its own interface, bridge and subnet), so both see the same machine at the same moments. Before each reference DEL the bench waits, untimed, for plumb's daemon to finish deleting the veth plumb's DEL left it.\n\n")
	table(b, []row{
		r.row("plumb.cni.add"), r.row("cni.i.add"), ratioRow(res.get("plumb.cni.add"), res.get("cni.i.add")),
		r.row("plumb.cni.del"), r.row("cni.i.del"), ratioRow(res.get("plumb.cni.del"), res.get("cni.i.del")),
	})
	fmt.Fprintf(b, "\nWhat a DEL could do with the veth pair, timed with `ip` (%d runs each):\n\n", floorRuns)
	table(b, []row{
		r.rowAs("floor.ipdel", "delete the host end: `ip link del vethX` (peer in bt-i)"),
		r.rowAs("floor.ipdel.peer", "delete the peer from inside: `ip -n bt-i link del eth0`"),
		r.rowAs("floor.netnsdel", "delete the namespace with the peer in it: `ip netns del NS`"),
		r.rowAs("floor.ipdown", "take the host end down: `ip link set vethX down` (plumb's DEL; its daemon deletes the pair later)"),
	})
}
