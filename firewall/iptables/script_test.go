package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

// recorder is an Emitter that keeps what it is handed.
type recorder struct {
	payloads []string // each heredoc: its command line, a newline, its body
	lines    []string
}

func (r *recorder) Heredoc(body string, args ...string) {
	r.payloads = append(r.payloads, strings.Join(args, " ")+"\n"+body)
}
func (r *recorder) Line(l string) { r.lines = append(r.lines, l) }

// replay runs what r was handed against f, in order, as the script would.
func (r *recorder) replay(t *testing.T, f *fakeIPT) {
	t.Helper()
	for _, p := range r.payloads {
		cmd, body, _ := strings.Cut(p, "\n")
		if err := f.restore([]byte(body), strings.HasSuffix(cmd, "--noflush")); err != nil {
			t.Fatalf("the script's %s fails: %v\n%s", cmd, err, body)
		}
	}
}

// TestScriptSeesItsWrites: a dry run's writes are planned one after the
// other, each from what the earlier ones leave (network rm --force: the
// endpoint's port rules, then the network's; network rm A B). The script
// runs without an error and leaves what the real calls leave.
func TestScriptSeesItsWrites(t *testing.T) {
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	p := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80}}
	setup := func() *fakeIPT {
		f := newFake()
		real := newFirewall(f, "")
		for _, err := range []error{real.EnsureNetwork(a), real.EnsureNetwork(b), real.AddPorts(a, "ep", p)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	for _, tc := range []struct {
		name string
		do   func(firewall.Firewall) error
	}{
		{"rm --force a", func(fw firewall.Firewall) error {
			if err := fw.DeletePorts("a", "ep"); err != nil {
				return err
			}
			return fw.DeleteNetwork("a")
		}},
		{"rm a b", func(fw firewall.Firewall) error {
			if err := fw.DeleteNetwork("a"); err != nil {
				return err
			}
			return fw.DeleteNetwork("b")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, want := setup(), setup()
			before := mustSave(t, host)
			out := &recorder{}
			if err := tc.do(newFirewall(&scriptRunner{read: host, out: out}, "")); err != nil {
				t.Fatal(err)
			}
			if got := mustSave(t, host); got != before {
				t.Fatalf("the dry run changed the ruleset:\n%s", got)
			}
			if len(out.lines) > 0 {
				t.Fatalf("one-by-one fallbacks in the script: %q", out.lines)
			}
			if err := tc.do(newFirewall(want, "")); err != nil {
				t.Fatal(err)
			}
			out.replay(t, host)
			if got, w := mustSave(t, host), mustSave(t, want); got != w {
				t.Fatalf("the script leaves\n%s\nthe real calls\n%s", got, w)
			}
		})
	}
}
