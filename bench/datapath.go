package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The data path: the same iperf3 and request-rate runs between two
// endpoints of each setup. Container to container: a bare veth pair between
// two namespaces (the kernel's limit), two namespaces on a plumb network,
// two containers on a Docker bridge network. Localhost to a published port:
// plumb's -p (DNAT in the OUTPUT chain) against Docker's -p (docker-proxy
// serves localhost). Every server and client is the same binary everywhere,
// started straight inside its namespace.
const (
	dataNet     = "data"
	dataSubnet  = "10.237.0.0/24"
	vethSubnetA = "10.236.0.1/30"
	vethSubnetB = "10.236.0.2/30"
	iperfPort   = 5201
	// plumb's published ports, inside the bench's own host netns.
	plumbIperfPort = 15201
	plumbHTTPPort  = 18080
	httpConc       = 8 // workers of the parallel request-rate run
)

// Data-path run kinds.
const (
	kindIperf = "iperf3"
	kindHTTP1 = "http1"
	kindHTTPN = "httpN"
)

// DataResults is what the data-path step measured.
type DataResults struct {
	Secs, Rounds int
	Setups       []DataSetup
	Runs         []DataRun
	Skips        map[string]string // setup key -> why it was not measured
	Notes        []string
}

// DataSetup describes one setup for the report.
type DataSetup struct {
	Key, Label, Path string
}

// DataRun is one measurement of one setup.
type DataRun struct {
	Setup, Kind string
	Round       int
	Bps         float64       // iperf3: received bits per second
	Retrans     int           // iperf3: sender retransmits
	HostCPU     float64       // iperf3: client's CPU, percent
	RemoteCPU   float64       // iperf3: server's CPU, percent
	ProxyCPU    time.Duration // docker-proxy's user+sys over the run (Docker's published port)
	HTTP        HTTPLoad
	Err         string
}

// dataEnd is one setup at run time: where its servers and its client run.
type dataEnd struct {
	DataSetup
	serverNS  string // netns file the servers run in
	clientNS  string // netns file the client runs in; "": the supervisor's own (the real host)
	addr      string // the address the client connects to
	iperfPort int
	httpPort  int
	proxy     bool // Docker's published port: measure docker-proxy's CPU
}

// dataPath is the supervisor's data-path step, run in the real host's netns
// after the worker: it needs Docker's localhost, and starts everything else
// inside the bench's namespaces.
func dataPath(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	d := &DataResults{Secs: p.DataSecs, Rounds: p.Rounds, Skips: map[string]string{}}
	res.Data = d
	iperf, err := exec.LookPath("iperf3")
	if err != nil {
		iperf = ""
		d.Notes = append(d.Notes, "iperf3 is not installed and apt-get could not install it: no throughput figures")
	}
	var ends []*dataEnd
	add := func(e *dataEnd, err error) error {
		if err != nil {
			return fmt.Errorf("setting up %s: %w", e.Label, err)
		}
		ends = append(ends, e)
		d.Setups = append(d.Setups, e.DataSetup)
		return nil
	}
	if err := add(vethEnds(p, cl)); err != nil {
		return err
	}
	c2c, port, err := plumbEnds(p, cl)
	if err := add(c2c, err); err != nil {
		return err
	}
	if err := add(port, nil); err != nil {
		return err
	}
	if p.DockerSkip != "" {
		d.Skips["docker"] = p.DockerSkip
		d.Skips["docker-port"] = p.DockerSkip
	} else {
		c2c, port, err := dockerEnds(p, cl, res)
		if err := add(c2c, err); err != nil {
			return err
		}
		if err := add(port, nil); err != nil {
			return err
		}
	}

	return measureRounds(ctx, p, cl, d, ends, iperf, []string{kindHTTP1, kindHTTPN})
}

// measureRounds starts the servers of every end (once per server netns:
// two ends may reach one server by two addresses), then runs p.Rounds
// rounds of each kind (iperf3 first, when there is an iperf3) over the
// ends, the first of each round rotating, appending the runs to d.
func measureRounds(ctx context.Context, p *Plan, cl *Cleanup, d *DataResults, ends []*dataEnd, iperf string, kinds []string) error {
	started := map[string]bool{}
	for _, e := range ends {
		if started[e.serverNS] {
			continue
		}
		started[e.serverNS] = true
		if err := startServers(p, cl, e, iperf); err != nil {
			return fmt.Errorf("%s: %w", e.Label, err)
		}
	}
	if iperf != "" {
		kinds = append([]string{kindIperf}, kinds...)
	}
	for r := 1; r <= p.Rounds; r++ {
		for _, kind := range kinds {
			logf("data path: round %d/%d, %s", r, p.Rounds, kind)
			for k := range ends {
				if err := ctx.Err(); err != nil {
					return err
				}
				e := ends[(r+k)%len(ends)]
				run := measure(p, e, kind, iperf)
				run.Round = r
				d.Runs = append(d.Runs, run)
				if run.Err != "" {
					logf("data path: %s %s: %s", e.Key, kind, run.Err)
				}
			}
		}
	}
	return nil
}

// vethEnds makes two namespaces joined by a bare veth pair.
// Equivalent to: `ip netns add A; ip netns add B; ip -n A link add va0 type
// veth peer name vb0 netns B`, addresses, up.
func vethEnds(p *Plan, cl *Cleanup) (*dataEnd, error) {
	a, b := p.Host+"-va", p.Host+"-vb"
	e := &dataEnd{DataSetup: DataSetup{Key: "veth", Label: "bare veth pair", Path: "netns A --veth-- netns B, no bridge, no firewall rule"},
		serverNS: netnsPath(a), clientNS: netnsPath(b), addr: strings.Split(vethSubnetA, "/")[0], iperfPort: iperfPort, httpPort: httpPort}
	for _, n := range []string{a, b} {
		if err := addNetns(n); err != nil {
			return e, err
		}
		cl.Push(func() { _ = delNetns(n) })
	}
	for _, argv := range [][]string{
		{"ip", "-n", a, "link", "add", "va0", "type", "veth", "peer", "name", "vb0", "netns", b},
		{"ip", "-n", a, "addr", "add", vethSubnetA, "dev", "va0"},
		{"ip", "-n", b, "addr", "add", vethSubnetB, "dev", "vb0"},
		{"ip", "-n", a, "link", "set", "va0", "up"},
		{"ip", "-n", b, "link", "set", "vb0", "up"},
		{"ip", "-n", a, "link", "set", "lo", "up"},
		{"ip", "-n", b, "link", "set", "lo", "up"},
	} {
		if _, err := sh(argv...); err != nil {
			return e, err
		}
	}
	return e, nil
}

// plumbEnds attaches bt-1 (server) and bt-2 (client) to a plumb network in
// the bench's host netns, and bt-3 with two published ports on 127.0.0.1,
// reached from that netns's localhost.
func plumbEnds(p *Plan, cl *Cleanup) (c2c, port *dataEnd, err error) {
	return plumbEndsOf(p, cl, dataPlumb{key: "plumb", label: "plumb", net: dataNet, subnet: dataSubnet,
		first: 1, iperfPort: plumbIperfPort, httpPort: plumbHTTPPort,
		argv: func(args ...string) []string { return plumbArgv(p, args...) }, stateRun: p.runDir()})
}

// dataPlumb is one plumb of the data path: its series keys and labels,
// network, targets (first, first+1, first+2), published host ports, and
// how its commands are made (state and run dirs, environment).
type dataPlumb struct {
	key, label          string
	net, subnet         string
	first               int
	iperfPort, httpPort int
	argv                func(args ...string) []string
	env                 []string
	create              []string // extra flags of its `network create` (--ipv6, a second --subnet)
	stateRun            string   // its run dir, whose daemon stops at cleanup
}

// plumbEndsOf is plumbEnds for the plumb dp describes.
func plumbEndsOf(p *Plan, cl *Cleanup, dp dataPlumb) (c2c, port *dataEnd, err error) {
	run := &Runner{Log: filepath.Join(p.TmpDir, "data-"+dp.key+".log"), Env: append([]string{"PLUMB_DNS_UPSTREAM=none"}, dp.env...), Netns: netnsPath(p.Host)}
	a, b, c := p.target(dp.first), p.target(dp.first+1), p.target(dp.first+2)
	c2c = &dataEnd{DataSetup: DataSetup{Key: dp.key, Label: dp.label + " network", Path: "netns " + a + " -- " + dp.label + " bridge (in the bench netns) -- netns " + b},
		serverNS: netnsPath(a), clientNS: netnsPath(b), iperfPort: iperfPort, httpPort: httpPort}
	port = &dataEnd{DataSetup: DataSetup{Key: dp.key + "-port", Label: dp.label + " -p 127.0.0.1:HOSTPORT:PORT",
		Path: "localhost of the bench netns -> DNAT (output hook) -> bridge -> netns " + c},
		serverNS: netnsPath(c), clientNS: netnsPath(p.Host), addr: "127.0.0.1", iperfPort: dp.iperfPort, httpPort: dp.httpPort}
	if _, err := run.Run("", nil, dp.argv(append([]string{"network", "create", dp.net, "--subnet", dp.subnet}, dp.create...)...)...); err != nil {
		return c2c, port, err
	}
	cl.Push(func() {
		_, _ = run.Run("", nil, dp.argv("network", "rm", "--force", dp.net)...)
		_ = stopDaemon(dp.stateRun, p.Plumb, 10*time.Second)
	})
	for _, args := range [][]string{
		{"attach", "netns:" + a, "--net", dp.net},
		{"attach", "netns:" + b, "--net", dp.net},
		{"attach", "netns:" + c, "--net", dp.net,
			"-p", fmt.Sprintf("127.0.0.1:%d:%d", dp.iperfPort, iperfPort),
			"-p", fmt.Sprintf("127.0.0.1:%d:%d", dp.httpPort, httpPort)},
	} {
		if _, err := run.Run("", nil, dp.argv(args...)...); err != nil {
			return c2c, port, err
		}
	}
	c2c.addr, err = nsAddr(a)
	return c2c, port, err
}

// nsAddr is the IPv4 address of eth0 in the named netns.
func nsAddr(ns string) (string, error) { return nsAddrOf(ns, "-4", "inet") }

// nsAddr6 is the global IPv6 address of eth0 in the named netns.
func nsAddr6(ns string) (string, error) { return nsAddrOf(ns, "-6", "inet6") }

// nsAddrOf is the first global address of family (-4, -6; "inet",
// "inet6" in ip's output) on eth0 in the named netns. Equivalent to:
// `ip -n NS -6 -o addr show dev eth0 scope global`.
func nsAddrOf(ns, family, kind string) (string, error) {
	out, err := sh("ip", "-n", ns, family, "-o", "addr", "show", "dev", "eth0", "scope", "global")
	if f := strings.Fields(out); err == nil && len(f) >= 4 && f[2] == kind {
		return strings.Split(f[3], "/")[0], nil
	}
	return "", fmt.Errorf("no %s address on eth0 in %s: %q %v", kind, ns, out, err)
}

// dockerEnds starts two containers on a Docker bridge network, and a third
// with two ports published on 127.0.0.1 (`docker run -p
// 127.0.0.1::PORT`), reached from the real host's localhost.
func dockerEnds(p *Plan, cl *Cleanup, res *Results) (c2c, port *dataEnd, err error) {
	net := p.dockerName("data")
	c2c = &dataEnd{DataSetup: DataSetup{Key: "docker", Label: "Docker bridge network", Path: "container -- Docker bridge (real host) -- container"},
		iperfPort: iperfPort, httpPort: httpPort}
	port = &dataEnd{DataSetup: DataSetup{Key: "docker-port", Label: "docker run -p 127.0.0.1::PORT",
		Path: "localhost of the real host -> docker-proxy -> bridge -> container"},
		addr: "127.0.0.1", proxy: true}
	cl.Push(func() { _, _ = removeDockerObjects(p.labelled()) })
	if err := createDockerNetwork(p, res, net, p.DockerSubnets[2]); err != nil {
		return c2c, port, err
	}
	server, err := runContainer(p, p.dockerName("d1"), net)
	if err != nil {
		return c2c, port, err
	}
	client, err := runContainer(p, p.dockerName("d2"), net)
	if err != nil {
		return c2c, port, err
	}
	c2c.serverNS, c2c.clientNS = procNetns(server), procNetns(client)
	if c2c.addr, err = containerIP(p.dockerName("d1"), net); err != nil {
		return c2c, port, err
	}
	pub, err := runContainer(p, p.dockerName("p1"), net,
		"-p", fmt.Sprintf("127.0.0.1::%d", iperfPort), "-p", fmt.Sprintf("127.0.0.1::%d", httpPort))
	if err != nil {
		return c2c, port, err
	}
	port.serverNS = procNetns(pub)
	for _, x := range []struct {
		ctr int
		to  *int
	}{{iperfPort, &port.iperfPort}, {httpPort, &port.httpPort}} {
		out, err := docker("port", p.dockerName("p1"), fmt.Sprintf("%d/tcp", x.ctr))
		if err != nil {
			return c2c, port, err
		}
		if _, err := fmt.Sscanf(strings.TrimPrefix(firstLine(out, nil), "127.0.0.1:"), "%d", x.to); err != nil {
			return c2c, port, fmt.Errorf("reading `docker port` %q: %w", out, err)
		}
	}
	return c2c, port, nil
}

// procNetns is the netns file of a process.
func procNetns(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }

// startServers starts iperf3 -s (when there is an iperf3) and the HTTP
// server inside e's server netns, registers their end, and waits until
// both listen.
func startServers(p *Plan, cl *Cleanup, e *dataEnd, iperf string) error {
	self, err := executable()
	if err != nil {
		return err
	}
	var cmds []*exec.Cmd
	if iperf != "" {
		cmds = append(cmds, exec.Command(iperf, "-s", "-p", fmt.Sprint(iperfPort)))
	}
	http := exec.Command(self)
	http.Env = append(cleanEnv(), envTool+"=httpserve")
	cmds = append(cmds, http)
	for _, c := range cmds {
		log, err := createLog(filepath.Join(p.TmpDir, fmt.Sprintf("server-%s-%s.log", e.Key, filepath.Base(c.Path))))
		if err != nil {
			return err
		}
		c.Stdout, c.Stderr = log, log
		if _, err := startIn(e.serverNS, c); err != nil {
			log.Close()
			return err
		}
		cl.Push(func() {
			_ = c.Process.Kill()
			_ = c.Wait()
			log.Close()
		})
	}
	for i, c := range cmds {
		port := httpPort
		if iperf != "" && i == 0 {
			port = iperfPort
		}
		if err := waitListening(c.Process.Pid, port, 5*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// measure runs one client of kind against e.
func measure(p *Plan, e *dataEnd, kind, iperf string) DataRun {
	run := DataRun{Setup: e.Key, Kind: kind}
	var proxy0 time.Duration
	var proxies []int
	if e.proxy {
		proxies = dockerProxies(e.iperfPort, e.httpPort)
		proxy0 = sumCPU(proxies)
	}
	var argv []string
	var env []string
	switch kind {
	case kindIperf:
		argv = []string{iperf, "-c", e.addr, "-p", fmt.Sprint(e.iperfPort), "-t", fmt.Sprint(p.DataSecs), "-J"}
	default:
		if e.proxy && conntrackBusy() {
			run.Err = "skipped: the real host's conntrack table is over a quarter full (other work); no more connections added to it"
			return run
		}
		self, err := executable()
		if err != nil {
			run.Err = err.Error()
			return run
		}
		conc := 1
		if kind == kindHTTPN {
			conc = httpConc
		}
		argv = []string{self, fmt.Sprintf("http://%s:%d/", e.addr, e.httpPort), fmt.Sprint(conc), fmt.Sprint(p.DataSecs)}
		env = append(cleanEnv(), envTool+"=httpload")
	}
	out, err := runIn(e.clientNS, env, time.Duration(p.DataSecs+30)*time.Second, argv...)
	if e.proxy {
		run.ProxyCPU = sumCPU(proxies) - proxy0
	}
	if err != nil {
		run.Err = err.Error()
		return run
	}
	if kind == kindIperf {
		err = parseIperf(out, &run)
	} else {
		err = parseJSON(out, &run.HTTP)
		if err == nil && run.HTTP.Requests == 0 {
			err = fmt.Errorf("no request answered: %s", run.HTTP.FirstErr)
		}
	}
	if err != nil {
		run.Err = err.Error()
	}
	return run
}

// median is the median of the successful runs of setup and kind, by f, and
// the smallest and largest value, with how many runs there were.
func (d *DataResults) median(setup, kind string, f func(DataRun) float64) (med, lo, hi float64, n int) {
	var xs []float64
	for _, r := range d.Runs {
		if r.Setup == setup && r.Kind == kind && r.Err == "" {
			xs = append(xs, f(r))
		}
	}
	if len(xs) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(xs)
	return xs[(len(xs)-1)/2], xs[0], xs[len(xs)-1], len(xs)
}

// runErr is the first error of setup's runs of kind, or "".
func (d *DataResults) runErr(setup, kind string) string {
	for _, r := range d.Runs {
		if r.Setup == setup && r.Kind == kind && r.Err != "" {
			return r.Err
		}
	}
	return ""
}
