package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/dockertest"
)

// Target namespaces are named PREFIX<pid>-i: plumb's "bt", the CNI peer's
// "bc" and netavark's "bn", with the supervisor's pid, so that two runs at
// once (another helper's, a CI job's) never share a name, and the namespaces
// a killed run left are known by their dead pid.
const (
	targetPrefix   = "bt"
	cniPrefix      = "bc"
	netavarkPrefix = "bn"
	hostPrefix     = "plumb-bench-"
)

// runNetns matches the namespaces of a run: its host netns (and the peers'
// and the data path's, which add a suffix) and its targets; group 2 is the
// run's pid.
var runNetns = regexp.MustCompile(`^(plumb-bench-|bt|bc|bn)(\d+)(-|$)`)

// sweepStaleNetns deletes the namespaces of earlier runs whose supervisor
// is gone (killed before its cleanup), and returns a line for the report
// when there were some.
func sweepStaleNetns(names []string) string {
	n, pids := 0, map[string]bool{}
	for _, name := range names {
		m := runNetns.FindStringSubmatch(name)
		if m == nil || benchAlive(m[2]) {
			continue
		}
		if err := delNetns(name); err == nil {
			n++
			pids[m[2]] = true
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("deleted %d namespaces that %d earlier, killed run(s) had left", n, len(pids))
}

// preparePeers makes sure the peers' tools are there, installing the
// missing ones with apt-get (from the real host: the worker's netns has no
// way out), and records in plan why a peer cannot run. It returns lines
// for the report about what it installed or found.
func preparePeers(ctx context.Context, plan *Plan) []string {
	var notes []string
	install := func(bin, pkg string) string {
		if unix.Access(bin, unix.X_OK) == nil {
			return ""
		}
		note, err := aptGet(ctx, pkg)
		if err != nil {
			return fmt.Sprintf("%s is missing and %v", bin, err)
		}
		notes = append(notes, note)
		if unix.Access(bin, unix.X_OK) != nil {
			return fmt.Sprintf("%s is still missing after `apt-get install -y %s`", bin, pkg)
		}
		return ""
	}
	needLevels := plan.runs("latency")
	if needLevels || plan.runs("burst") {
		plan.CNISkip = install(plan.CNIDir+"/bridge", "containernetworking-plugins")
		if plan.CNISkip == "" {
			plan.CNISkip = cniMissing(plan.CNIDir)
		}
	}
	if needLevels {
		plan.NetavarkSkip = install(plan.Netavark, "netavark")
	}
	if plan.runs("datapath") || plan.runs("nft") || plan.runs("ipv6") {
		if _, err := exec.LookPath("iperf3"); err != nil {
			if note, err := aptGet(ctx, "iperf3"); err != nil {
				notes = append(notes, "iperf3 is missing and "+err.Error())
			} else {
				notes = append(notes, note)
			}
		}
	}
	if (needLevels || plan.runs("datapath") || (plan.DNS && plan.runs("dns")) || plan.runs("repair-docker") || plan.runs("nft")) && plan.DockerSkip == "" {
		plan.DockerSkip = prepareDocker(plan, &notes)
	}
	return notes
}

// prepareDocker checks dockerd, builds the offline busybox image when
// dockerd lacks it, removes what killed runs left, and picks the subnets of
// the Docker networks. It returns why Docker cannot run, or "".
func prepareDocker(plan *Plan, notes *[]string) string {
	if !plan.Docker {
		return "skipped (-docker=false)"
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return "the docker CLI is not installed (lab/provision.sh installs Docker)"
	}
	if _, err := docker("info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Sprintf("dockerd does not answer (%v); lab/provision.sh starts it", err)
	}
	if n := sweepStaleDocker(); n != "" {
		*notes = append(*notes, n)
	}
	image, built, err := dockertest.EnsureBusyboxImage()
	if err != nil {
		return fmt.Sprintf("building the offline busybox image: %v", err)
	}
	if built > 0 {
		*notes = append(*notes, fmt.Sprintf("built the Docker image %s offline from %s (`docker import`, never pulled) in %.1f s; kept as a cache", image, dockertest.BusyboxPath, built.Seconds()))
	}
	plan.DockerImage = image
	if plan.DockerSubnets, err = pickDockerSubnets(5); err != nil {
		return err.Error()
	}
	return ""
}

// aptGet runs `apt-get install -y PKGS` and returns a line for the report.
func aptGet(ctx context.Context, pkgs ...string) (string, error) {
	argv := append([]string{"apt-get", "install", "-y"}, pkgs...)
	logf("installing %s: %s", strings.Join(pkgs, " "), strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("`%s` failed (%v): %s", strings.Join(argv, " "), err, tail(out, 300))
	}
	return fmt.Sprintf("the bench installed %s with `%s` (missing at the start of the run)", strings.Join(pkgs, " and "), strings.Join(argv, " ")), nil
}

// peerNamespaces returns the CNI and netavark peers' namespaces for the
// sections that run: each peer gets its own host netns and targets.
func peerNamespaces(plan *Plan) []PeerNS {
	var out []PeerNS
	lat := 0
	if plan.runs("latency") {
		lat = plan.sampleBase() + plan.Samples
	}
	burst := 0
	if plan.runs("burst") {
		burst = plan.Burst
	}
	if plan.CNISkip == "" && max(lat, burst) > 0 {
		out = append(out, PeerNS{Tool: "cni", Host: plan.Host + "-cni", Prefix: cniPrefix + plan.Label + "-", N: max(lat, burst)})
	}
	if plan.NetavarkSkip == "" && lat > 0 {
		out = append(out, PeerNS{Tool: "netavark", Host: plan.Host + "-nvk", Prefix: netavarkPrefix + plan.Label + "-", N: lat})
	}
	return out
}

// plumbNamespaces is how many targets plumb's sections need.
func plumbNamespaces(plan *Plan) int {
	n := 3 // the data path's
	if plan.runs("floors") {
		n = max(n, floorRuns)
	}
	if plan.runs("latency") {
		n = max(n, plan.sampleBase()+plan.Samples)
	}
	if plan.runs("burst") {
		n = max(n, plan.Burst)
	}
	if plan.runs("ports") {
		n = max(n, plan.Samples)
	}
	if plan.runs("cni") {
		n = max(n, plan.CNIN, floorRuns)
	}
	if plan.runs("truth") {
		n = max(n, truthNets*truthPerNet)
	}
	if plan.runs("see") {
		n = max(n, seeNets*seePerNet)
	}
	if plan.runs("dns") && plan.DNS {
		n = max(n, plan.DNSNames)
	}
	if plan.runs("repair-one") {
		n = max(n, plan.repairOneTarget())
	}
	if plan.runs("repair-scale") {
		n = max(n, repairWorld.endpoints())
	}
	if plan.runs("nft") {
		n = max(n, plan.nftTargets(), nftDataFirst-1+3*len(nftBackends))
	}
	if plan.runs("ipv6") {
		n = max(n, plan.ipv6Targets())
	}
	return n
}
