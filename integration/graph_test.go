package integration

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestPrivilegedGraph: two networks with endpoints, one published port;
// `plumb graph` shows them as text and as dot, --net narrows it, an
// unknown network is one line and exit 1, and svg comes out either way.
func TestPrivilegedGraph(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "front", "--subnet", "10.231.171.0/24")
	h.must("network", "create", "back", "--subnet", "10.231.172.0/24", "--internal")
	web, db := target(t), target(t)
	h.must("attach", "netns:"+web, "--net", "front", "--ip", "10.231.171.5", "-p", "8080:80", "--alias", "www")
	h.must("attach", "netns:"+web, "--net", "back", "--ip", "10.231.172.5")
	h.must("attach", "netns:"+db, "--net", "back", "--ip", "10.231.172.9")

	text := h.must("graph")
	for _, want := range []string{
		"host (2 networks, 3 endpoints)",
		"front  bridge ", "10.231.171.0/24  gw 10.231.171.1  dns 10.231.171.1:53",
		"back  bridge ", "10.231.172.0/24  gw 10.231.172.1  dns 10.231.172.1:53  internal",
		"eth0  10.231.171.5/24", "port 0.0.0.0:8080->80/tcp", "aliases www",
		"eth1  10.231.172.5/24", "10.231.172.9/24", "dns 127.0.0.11:53",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plumb graph lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "back  bridge") > strings.Index(text, "front  bridge") {
		t.Errorf("networks not sorted:\n%s", text)
	}

	dot := h.must("graph", "--format", "dot")
	for _, want := range []string{`subgraph "cluster_front"`, `subgraph "cluster_back"`, `label="0.0.0.0:8080->80/tcp"`, `10.231.172.9/24`, `host -> "br/back"`} {
		if !strings.Contains(dot, want) {
			t.Errorf("plumb graph --format dot lacks %q:\n%s", want, dot)
		}
	}

	only := h.must("graph", "--net", "back")
	if strings.Contains(only, "front") || !strings.Contains(only, "host (1 networks, 2 endpoints)") {
		t.Errorf("plumb graph --net back:\n%s", only)
	}
	svg := h.must("graph", "--format", "svg", "--renderer", "builtin")
	if !strings.Contains(svg, "<svg") || !strings.Contains(svg, "0.0.0.0:8080-&gt;80/tcp") {
		t.Errorf("plumb graph --format svg:\n%.400s", svg)
	}
	graphUnknownNet(t, h)
}

// graphUnknownNet: `plumb graph --net nosuch` is one line naming it on
// stderr, nothing on stdout, exit 1.
func graphUnknownNet(t *testing.T, h *host) {
	var stdout, stderr bytes.Buffer
	cmd := h.command(nil, "graph", "--net", "nosuch")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("graph --net nosuch: %v, want exit 1", err)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, `"nosuch"`) || stdout.Len() != 0 {
		t.Errorf("graph --net nosuch: stderr %q stdout %q, want one line naming it", msg, stdout.String())
	}
}
