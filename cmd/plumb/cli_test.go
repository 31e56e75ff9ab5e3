package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/script"
)

// runCLI runs plumb in-process as root (the euid check is faked) against a
// temporary state directory, and returns the exit code and both outputs.
func runCLI(t *testing.T, euid int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{out: &out, err: &errb, euid: func() int { return euid }}
	code := runApp(a, append([]string{"--state-dir", t.TempDir()}, args...))
	return code, out.String(), errb.String()
}

func TestCLIUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"network"},
		{"network", "frobnicate"},
		{"network", "create"},
		{"network", "create", "a", "b"},
		{"network", "create", "--no-such-flag", "a"},
		{"network", "create", "--mtu", "abc", "a"},
		{"attach", "x"},
		{"attach"},
		{"detach"},
		{"ps", "extra"},
		{"network", "create", "a", "--icc=maybe"},
	} {
		code, _, stderr := runCLI(t, 0, args...)
		if code != exitUsage {
			t.Errorf("plumb %q: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
}

func TestCLIBadInputIsOneLineNamingTheValue(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "n1", "--subnet", "10.0.0.0/33"}, `"10.0.0.0/33"`},
		{[]string{"network", "create", "n1", "--subnet", "banana"}, `"banana"`},
		{[]string{"network", "create", "n1", "--gateway", "10.0.0.300"}, `"10.0.0.300"`},
		{[]string{"network", "create", "n1", "--subnet", "10.99.0.0/24", "--gateway", "10.98.0.1"}, "10.98.0.1"},
		{[]string{"network", "create", "n1", "--subnet", "10.99.0.5/24"}, "10.99.0.5/24"},
		{[]string{"network", "create", "n1", "--subnet", "10.99.0.0/24", "--ip-range", "10.98.0.0/25"}, "10.98.0.0/25"},
		{[]string{"network", "create", "n1", "--bridge", "a-very-long-bridge-name"}, `"a-very-long-bridge-name"`},
		{[]string{"network", "create", "bad/name"}, `"bad/name"`},
		{[]string{"network", "create", "bad name"}, `"bad name"`},
		{[]string{"network", "create", ".."}, `".."`},
		{[]string{"network", "create", "n1", "--mtu", "10"}, "10"},
		{[]string{"network", "inspect", "nope"}, `"nope"`},
		{[]string{"network", "rm", "nope"}, `"nope"`},
		{[]string{"attach", "x", "--net", "nope"}, `"nope"`},
		{[]string{"attach", "x", "--net", "nope", "--ip", "1.2.3"}, `"1.2.3"`},
		{[]string{"attach", "x", "--net", "nope", "-p", "80/sctp"}, `"80/sctp"`},
		{[]string{"attach", "x", "--net", "nope", "-p", "70000:80"}, `"70000:80"`},
		{[]string{"attach", "x", "--net", "nope", "--publish", "::1:80:80"}, `"::1:80:80"`},
		{[]string{"port", "x", "eighty"}, `"eighty"`},
		{[]string{"port", "x", "80/sctp"}, `"sctp"`},
		{[]string{"ps", "--net", "nope"}, `"nope"`},
		{[]string{"ps", "--format", "yaml"}, `"yaml"`},
		{[]string{"network", "ls", "--format", "xml"}, `"xml"`},
		{[]string{"--firewall", "ipchains", "network", "ls"}, `"ipchains"`},
		{[]string{"network", "create", "n1", "--firewall=pf"}, `"pf"`},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, 0, c.args...)
		if code != exitError {
			t.Errorf("plumb %q: exit %d, want %d (stderr %q)", c.args, code, exitError, stderr)
			continue
		}
		if strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 {
			t.Errorf("plumb %q: error is not one line: %q", c.args, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("plumb %q: error %q does not name %s", c.args, stderr, c.want)
		}
	}
}

func TestCLINotRoot(t *testing.T) {
	code, _, stderr := runCLI(t, 1000, "network", "ls")
	if code != exitError || !strings.Contains(stderr, "root") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("non-root: exit %d, stderr %q", code, stderr)
	}
	if code, out, _ := runCLI(t, 1000, "--help"); code != exitOK || !strings.Contains(out, "plumb") {
		t.Fatalf("--help without root: exit %d", code)
	}
}

func TestCLIEmptyLists(t *testing.T) {
	code, out, _ := runCLI(t, 0, "network", "ls", "--format", "json")
	if code != exitOK || strings.TrimSpace(out) != "[]" {
		t.Fatalf("ls json on empty state: %d %q", code, out)
	}
	code, out, _ = runCLI(t, 0, "ps")
	if code != exitOK || !strings.HasPrefix(out, "TARGET") {
		t.Fatalf("ps on empty state: %d %q", code, out)
	}
}

func TestCLIConflictingNetFlagsIsUsage(t *testing.T) {
	if code, _, _ := runCLI(t, 0, "attach", "x", "--net", "a", "--network", "b"); code != exitUsage {
		t.Fatalf("--net a --network b: exit %d, want %d", code, exitUsage)
	}
}

// TestDryRunHeaderIsTheCommandLine: the header of a dry run's script is
// the command line as typed, its flags included, quoted for the shell.
func TestDryRunHeaderIsTheCommandLine(t *testing.T) {
	var out bytes.Buffer
	a := &app{out: &out, argv: []string{"plumb", "attach", "netns:x", "--net", "app", "-p", "8080:80", "--alias", "a b", "--dry-run"}}
	m := &network.Manager{DryRun: &script.Script{}}
	var d dryRun
	if err := d.print(a, m, &cobra.Command{Use: "attach"}, []string{"netns:x"}); err != nil {
		t.Fatal(err)
	}
	want := "# plumb attach netns:x --net app -p 8080:80 --alias 'a b' --dry-run changed nothing;"
	if !strings.Contains(out.String(), want+" ") {
		t.Fatalf("header:\n%s\nwant %s", out.String(), want)
	}
}

// TestCLIFirewallEnvBadValue: $PLUMB_FIREWALL is checked as --firewall
// is, and named in the one line.
func TestCLIFirewallEnvBadValue(t *testing.T) {
	t.Setenv("PLUMB_FIREWALL", "ebtables")
	code, _, stderr := runCLI(t, 0, "network", "ls")
	if code != exitError || !strings.Contains(stderr, `PLUMB_FIREWALL "ebtables"`) {
		t.Errorf("PLUMB_FIREWALL=ebtables: exit %d, stderr %q", code, stderr)
	}
}
