package nfwatch

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/plumbnet/plumb/internal/testutil"
)

// listenIn subscribes in the named namespace and runs the listener until
// the test ends, sending each Gen on the returned channel (buffered: the
// tests read what they wait for, and Run must not block on a full one).
func listenIn(t *testing.T, name string) <-chan Gen {
	t.Helper()
	var l *Listener
	err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error {
		var err error
		l, err = Listen()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gens := make(chan Gen, 1000)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, func(g Gen) { gens <- g }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return gens
}

// inNS runs a command in the named namespace and fails the test if it fails.
func inNS(t *testing.T, name string, argv ...string) {
	t.Helper()
	if out, err := testutil.InNS(name, argv[0], argv[1:]...); err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(argv, " "), name, err, out)
	}
}

// restoreIn feeds payload to iptables-restore --noflush in the namespace.
func restoreIn(t *testing.T, name, payload string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", name, "iptables-restore", "--noflush")
	cmd.Stdin = strings.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iptables-restore in %s: %v\n%s", name, err, out)
	}
}

// next waits for the next Gen, failing the test after a deadline.
func next(t *testing.T, gens <-chan Gen) Gen {
	t.Helper()
	select {
	case g := <-gens:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no nf_tables notification within 10 s")
		return Gen{}
	}
}

func TestPrivilegedOneCallPerTransaction(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	gens := listenIn(t, name)
	var b strings.Builder
	b.WriteString("*filter\n:T - [0:0]\n")
	for i := range 300 {
		fmt.Fprintf(&b, "-A T -s 10.9.%d.%d/32 -j ACCEPT\n", i/250, i%250)
	}
	b.WriteString("COMMIT\n")
	restoreIn(t, name, b.String())                  // one transaction, 300 rules
	inNS(t, name, "iptables", "-F", "T")            // one, deleting 300
	inNS(t, name, "nft", "flush", "ruleset")        // one, deleting the tables
	inNS(t, name, "nft", "add", "table", "ip", "m") // the marker
	var got []Gen
	for len(got) < 4 {
		got = append(got, next(t, gens))
	}
	// The marker's notification is the last of the four: had any
	// transaction before it made two calls, the fourth would not be the
	// marker's, whose committer is nft.
	for i, g := range got {
		if g.Lost || (i > 0 && g.ID != got[i-1].ID+1) {
			t.Fatalf("want 4 calls with consecutive generations, got %+v", got)
		}
	}
	if got[3].Comm != "nft" || got[0].Comm != "iptables-restor" {
		t.Errorf("committers %q, %q: want iptables-restor first, nft last", got[0].Comm, got[3].Comm)
	}
	select {
	case g := <-gens:
		t.Errorf("a fifth call after four transactions: %+v", g)
	default:
	}
}

// The socket filter lets only NEWGEN through: a transaction of 300 rules
// wakes the reader once, with one message.
func TestPrivilegedFilterKeepsOnlyNewGen(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	var l *Listener
	err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error {
		var err error
		l, err = Listen()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var b strings.Builder
	b.WriteString("*filter\n:T - [0:0]\n")
	for i := range 300 {
		fmt.Fprintf(&b, "-A T -s 10.9.%d.%d/32 -j ACCEPT\n", i/250, i%250)
	}
	b.WriteString("COMMIT\n")
	restoreIn(t, name, b.String())
	if err := l.c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs, err := l.c.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Header.Type != genType {
		t.Fatalf("first read after a 300-rule transaction: %d messages, first of type %#x; want one NEWGEN (%#x)",
			len(msgs), uint16(msgs[0].Header.Type), uint16(genType))
	}
}

// A change in another namespace is not reported. No wait is needed to
// show it: the kernel queues a notification on the listening socket while
// the transaction commits, before the committing command exits, so had
// the other namespace's change been delivered it would be read before the
// one made after it here.
func TestPrivilegedOtherNamespaceUnseen(t *testing.T) {
	testutil.RequirePrivileged(t)
	here, there := testutil.NewNetNS(t), testutil.NewNetNS(t)
	gens := listenIn(t, here)
	inNS(t, there, "iptables", "-A", "INPUT", "-j", "ACCEPT")
	inNS(t, there, "iptables", "-F")
	inNS(t, there, "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "ACCEPT")
	inNS(t, here, "nft", "add", "table", "ip", "m")
	if g := next(t, gens); g.Comm != "nft" {
		t.Fatalf("first notification %+v: want this namespace's nft", g)
	}
}

// Notifications the kernel drops when the socket's buffer is full are
// reported as one call with Lost set, and Run goes on.
func TestPrivilegedOverrunIsAChange(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	var l *Listener
	err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error {
		var err error
		l, err = Listen()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if err := l.c.SetReadBuffer(1); err != nil { // the kernel's minimum
		t.Fatal(err)
	}
	// Nothing reads while 50 transactions notify: the buffer overruns.
	for i := range 50 {
		inNS(t, name, "nft", "add", "table", "ip", fmt.Sprintf("t%d", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	gens := make(chan Gen, 100)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, func(g Gen) { gens <- g }) }()
	t.Cleanup(func() { cancel(); <-done })
	if g := next(t, gens); !g.Lost {
		t.Fatalf("first call after an overrun: %+v, want Lost", g)
	}
	// Run read on past the error: a later transaction is reported.
	inNS(t, name, "nft", "add", "table", "ip", "after")
	for g := next(t, gens); g.Lost; g = next(t, gens) {
	}
}
