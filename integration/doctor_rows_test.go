package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
	"github.com/plumbnet/plumb/portmap"
)

// doctorRow is one problem of TestPrivilegedDoctor: how to make it in a
// healthy doctorWorld, and the check ids doctor must report for it.
type doctorRow struct {
	name   string
	checks []string // each must be among the findings (the first is the row's own)
	note   bool     // the findings are notes: doctor exits 0
	manual bool     // not plumb's to repair: --fix keeps the finding, undo puts it right
	passes int      // --fix runs needed: a repair may reveal what the problem hid (default 1)
	after  string   // what --fix leaves (doctorWorld.after); "" is whole again
	slow   bool     // skipped with -short: it waits out the daemon's request timeouts
	inject func(t *testing.T, w *doctorWorld)
	undo   func(t *testing.T, w *doctorWorld)
}

// doctorRows are every problem doctor checks for, but the host's own
// firewall and settings (doctor/host*.go).
var doctorRows = []doctorRow{
	{name: "config-unreadable", checks: []string{"network-config"}, after: "removed",
		inject: func(t *testing.T, w *doctorWorld) { write(t, w.path("network.json"), "{garbage") }},
	{name: "config-missing", checks: []string{"network-config"}, after: "removed",
		inject: func(t *testing.T, w *doctorWorld) { rm(t, w.path("network.json")) }},
	{name: "endpoints-dir-a-file", checks: []string{"network-config"}, passes: 2, after: "reattach",
		inject: func(t *testing.T, w *doctorWorld) {
			rm(t, w.path("endpoints"))
			write(t, w.path("endpoints"), "not a directory\n")
		}},
	{name: "state-dir-unreadable", checks: []string{"state"}, manual: true,
		inject: func(t *testing.T, w *doctorWorld) {
			mv(t, filepath.Join(w.state, "networks"), filepath.Join(w.state, "networks.away"))
			write(t, filepath.Join(w.state, "networks"), "not a directory\n")
		},
		undo: func(t *testing.T, w *doctorWorld) {
			rm(t, filepath.Join(w.state, "networks"))
			mv(t, filepath.Join(w.state, "networks.away"), filepath.Join(w.state, "networks"))
		}},
	{name: "bridge-deleted", checks: []string{"network", "endpoint"},
		inject: func(t *testing.T, w *doctorWorld) { mustSh(t, w.host, "ip", "link", "del", w.bridge(t)) }},
	{name: "bridge-down", checks: []string{"network"},
		inject: func(t *testing.T, w *doctorWorld) { mustSh(t, w.host, "ip", "link", "set", w.bridge(t), "down") }},
	{name: "rules-flushed", checks: []string{"network"},
		inject: func(t *testing.T, w *doctorWorld) {
			mustSh(t, w.host, "iptables", "-F")
			mustSh(t, w.host, "iptables", "-t", "nat", "-F")
		}},
	{name: "localnet-guard-deleted", checks: []string{"network"},
		inject: func(t *testing.T, w *doctorWorld) { mustSh(t, w.host, "nft", "delete", "table", "inet", "plumb") }},
	{name: "veth-deleted", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) { mustSh(t, w.host, "ip", "link", "del", w.rec(t, w.a).HostVeth) }},
	{name: "veth-down", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) {
			mustSh(t, w.host, "ip", "link", "set", w.rec(t, w.a).HostVeth, "down")
		}},
	{name: "interface-name-taken", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) {
			// a's pair is gone, and its name went to a's next attach.
			mustSh(t, w.host, "ip", "link", "del", w.rec(t, w.a).HostVeth)
			w.must("network", "create", "dr2", "--subnet", "10.232.73.0/24")
			w.must("attach", "netns:"+w.a, "--net", "dr2")
		}},
	{name: "peer-address-removed", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) {
			mustSh(t, w.host, "ip", "-n", w.a, "addr", "flush", "dev", w.rec(t, w.a).IfName)
		}},
	{name: "default-route-removed", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) { mustSh(t, w.host, "ip", "-n", w.a, "route", "del", "default") }},
	{name: "dnat-rule-removed", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) { deleteRule(t, w.host, "PLUMB-PREROUTING", "plumb:"+drNet+"/") }},
	{name: "listener-gone", checks: []string{"endpoint"},
		inject: func(t *testing.T, w *doctorWorld) {
			if err := control.NewClient(w.runDir, nil).Down(drNet, w.rec(t, w.a).ID); err != nil {
				t.Fatal(err)
			}
		}},
	{name: "stray-veth", checks: []string{"stray-link"},
		inject: func(t *testing.T, w *doctorWorld) {
			mustSh(t, w.host, "ip", "link", "add", "veth0123456789a", "type", "veth", "peer", "name", "strayp0")
		}},
	{name: "retired-pair-left", checks: []string{"stray-link"},
		inject: func(t *testing.T, w *doctorWorld) { retiredPair(t, w.host) }},
	{name: "orphan-address-empty", checks: []string{"orphan-address"},
		inject: func(t *testing.T, w *doctorWorld) { write(t, w.path("ips", "10.232.70.200"), "") }},
	{name: "orphan-address-unknown-owner", checks: []string{"orphan-address"},
		inject: func(t *testing.T, w *doctorWorld) { write(t, w.path("ips", "10.232.70.201"), "ns-4242") }},
	{name: "second-address-of-endpoint", checks: []string{"orphan-address"},
		inject: func(t *testing.T, w *doctorWorld) { write(t, w.path("ips", "10.232.70.202"), w.rec(t, w.a).ID) }},
	{name: "no-address-file", checks: []string{"unreserved-address"},
		inject: func(t *testing.T, w *doctorWorld) { rm(t, w.path("ips", w.rec(t, w.b).IP.Addr().String())) }},
	{name: "stray-port-rule", checks: []string{"stray-port-rule"},
		inject: func(t *testing.T, w *doctorWorld) {
			mustSh(t, w.host, "iptables", "-t", "nat", "-A", "PLUMB-PREROUTING", "-p", "tcp", "-m", "tcp", "--dport", "8099",
				"-m", "comment", "--comment", "plumb:"+drNet+"/ns-4242", "-j", "DNAT", "--to-destination", "10.232.70.99:80")
		}},
	{name: "record-removed", checks: []string{"stray-hosts-line", "stray-resolv", "stray-link", "orphan-address"}, after: "reattach",
		inject: func(t *testing.T, w *doctorWorld) { rm(t, w.path("endpoints", w.rec(t, w.b).ID+".json")) }},
	{name: "create-staging-dir-left", checks: []string{"state-leftover"},
		inject: func(t *testing.T, w *doctorWorld) {
			dir := filepath.Join(w.state, "networks", ".create-dx-0123456789")
			if err := os.MkdirAll(filepath.Join(dir, "endpoints"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "network.json"), "{}\n")
		}},
	{name: "record-temp-file-left", checks: []string{"state-leftover"},
		inject: func(t *testing.T, w *doctorWorld) {
			write(t, w.path("endpoints", "."+w.rec(t, w.b).ID+".json.tmp0123456"), "{")
		}},
	{name: "stray-hosts-line", checks: []string{"stray-hosts-line"},
		inject: func(t *testing.T, w *doctorWorld) {
			appendTo(t, filepath.Join("/etc/netns", w.a, "hosts"), "10.232.70.77\tghost\t# plumb:"+drNet+"/ns-4242\n")
		}},
	{name: "netns-temp-file", checks: []string{"netns-temp-file"},
		inject: func(t *testing.T, w *doctorWorld) {
			write(t, filepath.Join("/etc/netns", w.a, ".hosts.plumb-0123456789ab"), "127.0.0.1\tlocalhost\n")
		}},
	{name: "daemon-stopped", checks: []string{"daemon"},
		inject: func(t *testing.T, w *doctorWorld) {
			w.stopDaemon()
			waitFor(t, func() bool { return w.daemonPID() == 0 }, "the daemon to stop")
		}},
	{name: "daemon-killed", checks: []string{"daemon-files", "daemon"},
		inject: func(t *testing.T, w *doctorWorld) {
			pid := w.daemonPID()
			syscall.Kill(pid, syscall.SIGKILL)
			w.waitDead(pid)
		}},
	{name: "daemon-not-answering", checks: []string{"daemon"}, manual: true, slow: true,
		inject: func(t *testing.T, w *doctorWorld) { syscall.Kill(w.daemonPID(), syscall.SIGSTOP) },
		undo:   func(t *testing.T, w *doctorWorld) { syscall.Kill(w.daemonPID(), syscall.SIGCONT) }},
	{name: "host-port-not-held", checks: []string{"held-port"},
		inject: func(t *testing.T, w *doctorWorld) {
			if err := control.NewClient(w.runDir, nil).Release(drNet, w.rec(t, w.a).ID); err != nil {
				t.Fatal(err)
			}
		}},
	{name: "stray-hold", checks: []string{"stray-hold"}, after: "unheld",
		inject: func(t *testing.T, w *doctorWorld) {
			// What an attach -p killed after the daemon took its port and
			// before its record was written leaves.
			reqs := []portmap.Request{{Proto: "tcp", HostPort: 8099, Port: 80}}
			if _, err := control.NewClient(w.runDir, nil).Hold(drNet, "ns-4242", reqs); err != nil {
				t.Fatal(err)
			}
		}},
	{name: "namespace-gone", checks: []string{"stale-endpoint"}, note: true, after: "stale",
		inject: func(t *testing.T, w *doctorWorld) { mustSh(t, w.host, "ip", "netns", "del", w.b) }},
	{name: "sandbox-on-no-network", checks: []string{"sandbox-detached"}, note: true, after: "holder-kept",
		inject: func(t *testing.T, w *doctorWorld) {
			// What a sandbox create killed before its attach, or an rm
			// killed after its detach, leaves: a holder on no network.
			dockertest.Require(t)
			w.holder = "plumb-dr-" + testutil.UniqueName("")
			t.Cleanup(func() { dockertest.Remove(t, w.holder) })
			w.must("sandbox", "create", w.holder, "--net", drNet)
			w.must("detach", w.holder)
		}},
}

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}

func mv(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// deleteRule deletes the first nat rule of chain whose spec contains
// what: `iptables -t nat -D CHAIN SPEC`.
func deleteRule(t *testing.T, h *host, chain, what string) {
	t.Helper()
	for _, l := range strings.Split(shOut(t, h, "iptables", "-t", "nat", "-S", chain), "\n") {
		if strings.HasPrefix(l, "-A "+chain+" ") && strings.Contains(l, what) {
			mustSh(t, h, "sh", "-c", "iptables -t nat -D "+strings.TrimPrefix(l, "-A "))
			return
		}
	}
	t.Fatalf("no rule of %s with %q", chain, what)
}

// retiredPair makes a veth pair named the way a detach retires one
// (veth.RetiredName: pgone and its own index), as if its deletion had
// been lost.
func retiredPair(t *testing.T, h *host) {
	t.Helper()
	mustSh(t, h, "ip", "link", "add", "pgtmp", "type", "veth", "peer", "name", "pgtmpp")
	idx, _, _ := strings.Cut(shOut(t, h, "ip", "-o", "link", "show", "pgtmp"), ":")
	mustSh(t, h, "ip", "link", "set", "pgtmp", "name", "pgone"+idx)
}
