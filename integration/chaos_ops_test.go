package integration

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The operations of the kill -9 test, each run as its own plumb process
// in the throwaway host namespace and SIGKILLed after a random delay.

// chaosNet is a network of the chaos test: made by `plumb network
// create`, or for the last of chaos.nets by the first CNI ADD.
type chaosNet struct{ name, subnet string }

// chaosOp is one operation: plumb's arguments (CLI), or its CNI
// environment and config, and when to SIGKILL it or the daemon.
type chaosOp struct {
	kind  string
	args  []string // CLI arguments; nil for CNI
	env   []string // CNI_* variables for CNI
	stdin []byte   // the CNI config
	delay time.Duration
	// daemon: SIGKILL the daemon after delay, not the operation.
	daemon bool
	// out is what it printed and exit its exit code, once run (-1: killed).
	out  string
	exit int
}

func (o *chaosOp) String() string {
	what := strings.Join(o.args, " ")
	if o.args == nil {
		what = strings.Join(o.env[:3], " ")
	}
	victim := "it"
	if o.daemon {
		victim = "the daemon"
	}
	return fmt.Sprintf("%-7s %-58s kill %s after %v", o.kind, what, victim, o.delay.Round(10*time.Microsecond))
}

// opWeights is how often each kind of operation is drawn, out of their sum.
var opWeights = []struct {
	kind   string
	weight int
}{
	{"attach", 26}, {"detach", 12}, {"cni-add", 14}, {"cni-del", 10},
	{"create", 12}, {"rm", 12}, {"daemon", 14},
}

// draw picks the next operation, its arguments and its delay.
func (c *chaos) draw() *chaosOp {
	total := 0
	for _, w := range opWeights {
		total += w.weight
	}
	x := c.rng.Intn(total)
	kind := opWeights[len(opWeights)-1].kind
	for _, w := range opWeights {
		if x < w.weight {
			kind = w.kind
			break
		}
		x -= w.weight
	}
	if kind == "daemon" {
		// The daemon dies while an attach or a detach talks to it.
		op := c.drawKind([]string{"attach", "detach", "cni-add", "cni-del"}[c.rng.Intn(4)])
		op.kind, op.daemon = "daemon", true
		return op
	}
	return c.drawKind(kind)
}

// drawKind builds an operation of kind with random arguments, most of
// the time ones that change something in the state as it is (pick).
func (c *chaos) drawKind(kind string) *chaosOp {
	op := &chaosOp{kind: kind}
	s := readState(c.t, c.h.state)
	var nets, cliNets, existing, missing []string
	for i, n := range c.nets {
		nets = append(nets, n.name)
		_, ok := s.nets[n.name]
		if i < len(c.nets)-1 { // the CNI network is made by ADD
			cliNets = append(cliNets, n.name)
			if !ok {
				missing = append(missing, n.name)
			}
		}
		if ok {
			existing = append(existing, n.name)
		}
	}
	// The networks come and go: a create with every network there removes
	// one instead, and an rm with none there creates one.
	if kind == "create" && len(missing) == 0 {
		op.kind, kind = "rm", "rm"
	} else if kind == "rm" && len(existing) == 0 {
		op.kind, kind = "create", "create"
	}
	switch kind {
	case "create":
		name := c.pick(missing, cliNets)
		op.args = []string{"network", "create", name, "--subnet", c.subnet(name)}
	case "rm":
		// The CLI's networks first, so that their creates come back
		// (the CNI network is made again by the next ADD anyway).
		useful := slices.DeleteFunc(slices.Clone(existing), func(n string) bool { return !slices.Contains(cliNets, n) })
		if len(useful) == 0 {
			useful = existing
		}
		op.args = []string{"network", "rm", c.pick(useful, nets)}
		if c.rng.Intn(4) > 0 {
			op.args = append(op.args, "--force")
		}
	case "attach":
		var all, useful []string
		for _, t := range c.targets {
			for _, n := range nets {
				all = append(all, t+" "+n)
				if slices.Contains(existing, n) && s.recOf("netns:"+t, n) == nil {
					useful = append(useful, t+" "+n)
				}
			}
		}
		t, n, _ := strings.Cut(c.pick(useful, all), " ")
		op.args = []string{"attach", "netns:" + t, "--net", n}
		if c.rng.Intn(5) < 2 {
			op.args = append(op.args, "-p", fmt.Sprintf("%d:80", 8081+c.rng.Intn(3)))
		}
	case "detach":
		var attached []string
		for _, t := range c.targets {
			if s.recOf("netns:"+t, "") != nil {
				attached = append(attached, t)
			}
		}
		op.args = []string{"detach", "netns:" + c.pick(attached, c.targets)}
		if c.rng.Intn(2) == 0 {
			op.args = append(op.args, "--net", nets[c.rng.Intn(len(nets))])
		}
	case "cni-add", "cni-del":
		var all, useful []string
		for i := range c.cniNS {
			all = append(all, strconv.Itoa(i))
			if (s.recOf(fmt.Sprintf("cni:chaos-ctr-%d", i), "") == nil) == (kind == "cni-add") {
				useful = append(useful, strconv.Itoa(i))
			}
		}
		i, _ := strconv.Atoi(c.pick(useful, all))
		cmd := map[string]string{"cni-add": "ADD", "cni-del": "DEL"}[kind]
		op.env = []string{"CNI_COMMAND=" + cmd, fmt.Sprintf("CNI_CONTAINERID=chaos-ctr-%d", i),
			"CNI_NETNS=/var/run/netns/" + c.cniNS[i], "CNI_IFNAME=eth0", "CNI_PATH=" + filepath.Dir(plumbBin)}
		op.stdin = c.cniConf(c.rng.Intn(3) == 0)
	}
	op.delay = c.delay(kind)
	return op
}

// pick draws from useful (the choices that change something now) four
// times in five when there are some, else from all: the rest exercise the
// paths that find nothing to do (create of a network that exists, detach
// of a target that is not attached).
func (c *chaos) pick(useful, all []string) string {
	if len(useful) > 0 && c.rng.Intn(5) > 0 {
		return useful[c.rng.Intn(len(useful))]
	}
	return all[c.rng.Intn(len(all))]
}

// subnet is the subnet of the chaos network name.
func (c *chaos) subnet(name string) string {
	for _, n := range c.nets {
		if n.name == name {
			return n.subnet
		}
	}
	return ""
}

// cniConf is the CNI config of the CNI network, publishing a port or not.
func (c *chaos) cniConf(publish bool) []byte {
	net := c.nets[len(c.nets)-1]
	conf := map[string]any{"cniVersion": "1.0.0", "name": net.name, "type": "plumb", "subnet": net.subnet,
		"stateDir": c.h.state, "capabilities": map[string]bool{"portMappings": true}}
	if publish {
		conf["runtimeConfig"] = map[string]any{"portMappings": []map[string]any{
			{"hostPort": 8091 + c.rng.Intn(2), "containerPort": 80, "protocol": "tcp"}}}
	}
	b, _ := json.Marshal(conf)
	return b
}

// delay draws when to kill an operation of kind: uniform from three
// quarters of the time a plumb process takes to start (a kill before that finds nothing
// begun) to a bit more than such an operation takes uncut (calibrate), so
// that most kills land while it runs and a few after it is done.
func (c *chaos) delay(kind string) time.Duration {
	d := c.took[kind]
	if d == 0 {
		d = c.took["attach"]
	}
	lo := c.took["start"] * 3 / 4
	hi := max(d*11/10, lo)
	return lo + time.Duration(c.rng.Int63n(int64(hi-lo)+1))
}

// command is the process of op in the host namespace.
func (c *chaos) command(op *chaosOp) *exec.Cmd {
	if op.args != nil {
		return c.h.command(nil, op.args...)
	}
	cmd := exec.Command("ip", "netns", "exec", c.h.ns, plumbBin)
	cmd.Env = append(append(os.Environ(), "PLUMB_RUN_DIR="+c.h.runDir, "PLUMB_DNS_UPSTREAM=none", "PLUMB_STATE_DIR="), op.env...)
	cmd.Stdin = strings.NewReader(string(op.stdin))
	return cmd
}

// run runs op, kills it (or the daemon) after its delay, and says how it
// ended: "done" (it exited before the kill), "cut" (killed after it
// changed something), "early" (killed before it changed anything visible)
// and for daemon kills "daemon" or "no-daemon".
func (c *chaos) run(op *chaosOp) (outcome string, took time.Duration) {
	c.t.Helper()
	cmd := c.command(op)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting %v: %v", op, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(op.delay):
	}
	if op.daemon {
		outcome = "no-daemon"
		if pid := c.h.daemonPID(); pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil {
			outcome = "daemon"
		}
	} else {
		cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		c.t.Fatalf("%v still runs 30 s after its kill:\n%s", op, out.String())
	}
	took = time.Since(start)
	op.out, op.exit = out.String(), cmd.ProcessState.ExitCode()
	before := c.fp
	c.fp = c.fingerprint()
	if op.daemon {
		return outcome, took
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ws.Signaled():
		return "done", took
	case c.fp != before:
		return "cut", took
	}
	return "early", took
}

// seed is $PLUMB_CHAOS_SEED, else the clock's.
func chaosSeed(t *testing.T) int64 {
	if s := os.Getenv("PLUMB_CHAOS_SEED"); s != "" {
		var n int64
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatalf("PLUMB_CHAOS_SEED=%q: %v", s, err)
		}
		return n
	}
	return time.Now().UnixNano()
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
