package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// The lab's images, made by lab/build-images.
const (
	sinatraImage = "plumb-lab/sinatra:latest"
	nginxImage   = "plumb-lab/nginx:latest"
)

// labImages makes sure the lab's images exist, building them with
// lab/build-images (cached: a second run takes well under a second). When
// they cannot be built (no mirror reachable, no debootstrap) the test is
// skipped, or fails under PLUMB_REQUIRE_DOCKER.
func labImages(t *testing.T) {
	t.Helper()
	dockertest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../lab/build-images").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("the lab images (%s, %s) are missing and lab/build-images failed: %v\n%s", sinatraImage, nginxImage, err, out)
	if os.Getenv("PLUMB_REQUIRE_DOCKER") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// dockerRun starts a container with `docker run -d ARGS...` and removes it
// at cleanup, even when the test fails.
func dockerRun(t *testing.T, name string, args ...string) {
	t.Helper()
	t.Cleanup(func() { dockertest.Remove(t, name) })
	if out, err := dockerCLI(append([]string{"run", "-d", "--name", name}, args...)...); err != nil {
		t.Fatalf("docker run %s: %v\n%s", name, err, out)
	}
}

// curlFrom fetches url from inside namespace ns and returns the response
// with its headers (curl -i), or an error.
func curlFrom(ns, url string) (string, error) {
	return testutil.InNS(ns, "curl", "-s", "-i", "--max-time", "5", url)
}

// waitServing fetches url from ns until the answer says "hello world",
// trying for a while: puma and nginx start after `docker run` returns. It
// returns the last answer and error.
func waitServing(ns, url string) (string, error) {
	var out string
	var err error
	for i := 0; i < 120; i++ {
		if out, err = curlFrom(ns, url); err == nil && strings.Contains(out, "hello world") {
			return out, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err == nil {
		err = fmt.Errorf("no hello world")
	}
	return out, err
}

var servedBy = regexp.MustCompile(`(?mi)^X-Served-By:\s*(\S+)`)

// digIn asks 127.0.0.11 for name (A) inside the network namespace of pid.
func digIn(pid int, name string) string {
	out, _ := exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(pid)+"/ns/net",
		"dig", "+short", "+time=1", "+tries=3", "@127.0.0.11", name, "A").CombinedOutput()
	return strings.TrimSpace(string(out))
}

// TestPrivilegedDockerLabDemo is `make demo` as a test, twice in a row on
// one machine: the seed's three sinatra containers and one nginx in front,
// each in a plumb sandbox, nginx published on port 80. plumb runs in a
// throwaway host namespace (the bridge, the rules and the published port
// live there), so the test sees its own firewall only, whatever else runs
// on the machine. The sandboxes have unique names and carry the seed's
// names as aliases (sinatra-web-1..3, what nginx.conf asks for), so the
// test never clashes with a `make demo` running beside it.
func TestPrivilegedDockerLabDemo(t *testing.T) {
	labImages(t)
	for round := 1; round <= 2; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) { labDemo(t, round) })
	}
}

func labDemo(t *testing.T, round int) {
	h := newHost(t)
	before := h.snapshot()
	id := testutil.UniqueName("")
	net := "lab-" + id
	subnet := fmt.Sprintf("10.231.%d.0/24", 60+round)
	webs := []string{"plumb-lab-" + id + "-w1", "plumb-lab-" + id + "-w2", "plumb-lab-" + id + "-w3"}
	nginx := "plumb-lab-" + id + "-nginx"
	all := append(append([]string{}, webs...), nginx)
	// Cleanup that runs even when the test fails half-way: apps first,
	// then the sandboxes (h's own cleanup then removes the network).
	t.Cleanup(func() {
		for _, sb := range all {
			dockertest.Remove(t, sb+"-app")
		}
		if out, err := h.run(append([]string{"sandbox", "rm"}, all...)...); err != nil {
			t.Errorf("cleanup: sandbox rm: %v\n%s", err, out)
		}
	})

	h.must("network", "create", net, "--subnet", subnet)
	for i, w := range webs {
		h.must("sandbox", "create", w, "--net", net, "--alias", fmt.Sprintf("sinatra-web-%d", i+1))
		dockerRun(t, w+"-app", "--network=container:"+w, sinatraImage)
	}
	// Every sinatra app serves before nginx starts: nginx takes an
	// upstream that refuses a connection out of its round for 10 s
	// (fail_timeout), and the requests below would never reach one whose
	// puma was still starting.
	for _, w := range webs {
		if out, err := waitServing(h.ns, "http://"+h.epIP(w, net)+":9000/"); err != nil {
			logs, _ := dockerCLI("logs", w+"-app")
			t.Fatalf("sinatra %s does not serve: %v\n%s\nlogs:\n%s", w, err, out, logs)
		}
	}
	// nginx resolves its upstreams once, at start: its sandbox, and the
	// sinatra ones, exist before it runs. That is the start ordering the
	// seed warns about, solved.
	out := h.must("sandbox", "create", nginx, "--net", net, "-p", "80:80")
	if !strings.Contains(out, "0.0.0.0:80->80/tcp") {
		t.Fatalf("sandbox create -p 80:80 did not say it published:\n%s", out)
	}
	dockerRun(t, nginx+"-app", "--network=container:"+nginx, nginxImage)

	// hello world through nginx, on the published port.
	url := "http://127.0.0.1:80/"
	if out, err := waitServing(h.ns, url); err != nil {
		logs, _ := dockerCLI("logs", nginx+"-app")
		t.Fatalf("no hello world through nginx at %s: %v\n%s\nnginx logs:\n%s", url, err, out, logs)
	}
	// Every sinatra container serves through nginx. nginx's 8 workers
	// each go round the three upstreams, so with 8*2+1 requests one worker
	// serves at least three: every backend must show up.
	seen := map[string]int{}
	for i := 0; i < 17; i++ {
		out, err := curlFrom(h.ns, url)
		if err != nil || !strings.Contains(out, "hello world") {
			t.Fatalf("request %d through nginx: %v\n%s", i, err, out)
		}
		m := servedBy.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("request %d: no X-Served-By marker:\n%s", i, out)
		}
		seen[m[1]]++
	}
	for _, w := range webs {
		if seen[w] == 0 {
			t.Errorf("sinatra container %s never answered through nginx (answers: %v)", w, seen)
		}
	}

	// nginx's namespace resolves the seed's names through 127.0.0.11, and
	// nginx itself (getent, as its resolver does) sees them.
	pid, _, _ := dockertest.Inspect(t, nginx)
	for i, w := range webs {
		name := fmt.Sprintf("sinatra-web-%d", i+1)
		want := h.epIP(w, net)
		if got := digIn(pid, name); got != want {
			t.Errorf("dig @127.0.0.11 %s in nginx's namespace = %q, want %s", name, got, want)
		}
		if out, err := dockertest.Exec(t, nginx+"-app", "getent", "hosts", name); err != nil || !strings.HasPrefix(out, want+" ") {
			t.Errorf("getent hosts %s in nginx's container = %q, %v; want %s", name, out, err, want)
		}
	}

	// Restarting the nginx app keeps it serving: the sandbox keeps the
	// namespace, its address and its published port.
	nginxIP := h.epIP(nginx, net)
	if out, err := dockerCLI("restart", nginx+"-app"); err != nil {
		t.Fatalf("docker restart: %v\n%s", err, out)
	}
	if out, err := waitServing(h.ns, url); err != nil {
		t.Fatalf("no hello world after restarting nginx: %v\n%s", err, out)
	}
	if ip := h.epIP(nginx, net); ip != nginxIP {
		t.Errorf("nginx's address moved from %s to %s over an app restart", nginxIP, ip)
	}
	if out := h.must("ps"); strings.Contains(out, "stale") {
		t.Errorf("an endpoint is stale after an app restart:\n%s", out)
	}

	// Teardown, as make demo-clean does it, twice: it is safe to repeat.
	for _, sb := range all {
		dockertest.Remove(t, sb+"-app")
	}
	h.must(append([]string{"sandbox", "rm"}, all...)...)
	out = h.must(append([]string{"sandbox", "rm"}, all...)...)
	if strings.Count(out, "nothing to do") != len(all) {
		t.Errorf("second sandbox rm:\n%s", out)
	}
	h.must("network", "rm", net)
	for _, sb := range all {
		for _, c := range []string{sb, sb + "-app"} {
			if dockertest.Exists(t, c) {
				t.Errorf("container %s left behind", c)
			}
		}
	}
	if out := h.must("sandbox", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("sandboxes left: %s", out)
	}
	if files := stateFiles(t, h.state); files != "" {
		t.Errorf("state files left:\n%s", files)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("host namespace changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// TestPrivilegedDockerRestartGetsItsAddressBack: a --network=none container
// that restarts while no daemon runs has a new namespace; ps shows its
// endpoint stale, and attaching it again gives it the same address (and
// the ps row is up).
func TestPrivilegedDockerRestartGetsItsAddressBack(t *testing.T) {
	dockertest.Require(t)
	h := newHost(t)
	before := h.snapshot()
	name := testutil.UniqueName("pr")
	dockertest.RunNone(t, name)
	h.must("network", "create", "rs", "--subnet", "10.231.70.0/24")
	// Another endpoint takes .2 first, so "the same address" is not just
	// "the first free one".
	other := testutil.UniqueName("pq")
	dockertest.RunNone(t, other)
	h.must("attach", other, "--net", "rs")
	h.must("attach", name, "--net", "rs")
	ip := h.epIP(name, "rs")
	if stale := staleOf(t, h, name); stale {
		t.Fatalf("endpoint of a running container shows stale")
	}

	// With no daemon running: a daemon re-attaches a restarted container
	// by itself (TestPrivilegedDockerRestartReattaches).
	h.stopDaemon()
	if out, err := dockerCLI("restart", "-t", "0", name); err != nil {
		t.Fatalf("docker restart: %v\n%s", err, out)
	}
	if !staleOf(t, h, name) {
		t.Fatalf("after a restart, ps does not show the endpoint stale:\n%s", h.must("ps"))
	}
	if !strings.Contains(h.must("ps"), "stale") {
		t.Fatalf("ps table has no stale row:\n%s", h.must("ps"))
	}
	// Meanwhile a third container must not take the address.
	third := testutil.UniqueName("ps")
	dockertest.RunNone(t, third)
	h.must("attach", third, "--net", "rs")
	if h.epIP(third, "rs") == ip {
		t.Fatalf("the stale endpoint's address %s went to another container", ip)
	}

	h.must("attach", name, "--net", "rs")
	if got := h.epIP(name, "rs"); got != ip {
		t.Fatalf("re-attach after restart: address %s, want %s back", got, ip)
	}
	if staleOf(t, h, name) {
		t.Fatalf("re-attached endpoint still stale")
	}
	if out, err := dockertest.Exec(t, name, "ping", "-c", "1", "-W", "2", h.epIP(other, "rs")); err != nil {
		t.Fatalf("restarted container cannot reach %s: %v\n%s", other, err, out)
	}
	h.must("network", "rm", "--force", "rs")
	if files := stateFiles(t, h.state); files != "" {
		t.Errorf("state files left:\n%s", files)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("host namespace changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// staleOf reads "stale" of target's endpoint from ps --format json.
func staleOf(t *testing.T, h *host, target string) bool {
	t.Helper()
	return h.endpointOf(target, "").Stale
}

// TestPrivilegedDockerSandbox: a sandbox whose attach fails leaves no
// holder; a holder that restarts while no daemon runs is stale until
// `sandbox create` again, which gives it its address back; apps find names and the network ready
// at start; rm is safe to repeat and refuses other containers.
func TestPrivilegedDockerSandbox(t *testing.T) {
	dockertest.Require(t)
	image := dockertest.BusyboxImage(t)
	h := newHost(t)
	before := h.snapshot()
	h.must("network", "create", "sb", "--subnet", "10.231.71.0/24")
	sb := "plumb-sb-" + testutil.UniqueName("")
	t.Cleanup(func() { h.run("sandbox", "rm", sb) })

	// Failing attach steps roll the holder back.
	for _, step := range []string{"allocate", "veth", "configure", "hosts", "dns"} {
		out, err := h.command([]string{"PLUMB_INJECT_FAULT=" + step}, "sandbox", "create", sb, "--net", "sb").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "injected") {
			t.Fatalf("sandbox create with a fault at %s: %v\n%s", step, err, out)
		}
		if dockertest.Exists(t, sb) {
			t.Fatalf("sandbox create failing at %s left its holder container", step)
		}
	}
	if out := h.must("ps"); strings.Contains(out, sb) {
		t.Fatalf("failed sandbox creates left an endpoint:\n%s", out)
	}

	out := h.must("sandbox", "create", sb, "--net", "sb", "--alias", "web")
	if !strings.Contains(out, "--network=container:"+sb) {
		t.Errorf("sandbox create output: %s", out)
	}
	if out := h.must("sandbox", "create", sb, "--net", "sb"); !strings.Contains(out, "nothing to do") {
		t.Errorf("second sandbox create: %s", out)
	}
	ip := h.epIP(sb, "sb")
	// An app joining the sandbox has its address, its name and the DNS
	// from its first instruction on: no waiting, no retry.
	app := sb + "-app"
	t.Cleanup(func() { dockertest.Remove(t, app) })
	out, err := dockerCLI("run", "--rm", "--name", app, "--network=container:"+sb, image,
		"sh", "-c", "ip -o -4 addr show eth0; echo HOSTNAME=$(hostname); cat /etc/hosts; nslookup web 127.0.0.11")
	if err != nil || !strings.Contains(out, ip+"/24") || !strings.Contains(out, "HOSTNAME="+sb+"\n") || strings.Count(out, ip) < 3 {
		t.Fatalf("app in the sandbox (want %s, hostname %s, hosts entry, DNS answer): %v\n%s", ip, sb, err, out)
	}

	// A restarted holder has a new namespace: stale, then its address back.
	// With no daemon running: a daemon re-attaches it by itself
	// (TestPrivilegedDockerRestartSandbox).
	h.stopDaemon()
	if out, err := dockerCLI("restart", "-t", "0", sb); err != nil {
		t.Fatalf("docker restart %s: %v\n%s", sb, err, out)
	}
	if !staleOf(t, h, sb) {
		t.Fatalf("restarted holder not stale")
	}
	h.must("sandbox", "create", sb, "--net", "sb")
	if got := h.epIP(sb, "sb"); got != ip || staleOf(t, h, sb) {
		t.Fatalf("re-created sandbox: %s (stale %v), want %s back", got, staleOf(t, h, sb), ip)
	}
	if out := h.must("sandbox", "ls"); !strings.Contains(out, sb) || !strings.Contains(out, "running") || !strings.Contains(out, ip) {
		t.Errorf("sandbox ls:\n%s", out)
	}

	// rm refuses a container plumb did not make, and leaves it alone.
	plain := testutil.UniqueName("pn")
	dockertest.RunNone(t, plain)
	if out, err := h.run("sandbox", "rm", plain); err == nil || !strings.Contains(out, "not a plumb sandbox") {
		t.Errorf("sandbox rm of a plain container: %v %s", err, out)
	}
	if !dockertest.Exists(t, plain) {
		t.Errorf("sandbox rm removed a container plumb did not make")
	}

	h.must("sandbox", "rm", sb)
	if out := h.must("sandbox", "rm", sb); !strings.Contains(out, "nothing to do") {
		t.Errorf("second sandbox rm: %s", out)
	}
	if dockertest.Exists(t, sb) {
		t.Errorf("holder %s left", sb)
	}
	h.must("network", "rm", "sb")
	if files := stateFiles(t, h.state); files != "" {
		t.Errorf("state files left:\n%s", files)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("host namespace changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
