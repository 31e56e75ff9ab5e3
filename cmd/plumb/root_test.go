package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestLazyTreeSameOutput: a root holding only the named command prints
// and exits exactly as the whole tree does. The caller is not root, so
// every valid command stops at that check and nothing runs.
func TestLazyTreeSameOutput(t *testing.T) {
	argsList := [][]string{
		{"ps", "--format", "json"}, {"ps", "extra"}, {"--state-dir", "/x", "ps"}, {"--state-dir=/x", "ps", "--net", "n"},
		{"--run-dir", "/r", "dns", "ls"}, {"--run-dir=/r", "--state-dir", "/x", "port", "web", "80"},
		{"port"}, {"port", "a", "b", "c"}, {"attach", "web"}, {"attach", "web", "--net", "n", "-p", "80:80"},
		{"detach"}, {"detach", "web", "--net", "n"}, {"network"}, {"network", "frob"}, {"network", "create"},
		{"network", "create", "n", "--subnet", "10.0.0.0/24"}, {"network", "ls", "-q"}, {"network", "list"},
		{"network", "inspect"}, {"network", "rm", "n"}, {"network", "remove", "n"}, {"daemon", "extra"},
		{"dns"}, {"dns", "ls", "--net"}, {"sandbox"}, {"sandbox", "create", "s"}, {"sandbox", "ls"}, {"sandbox", "rm"},
		{"hold", "extra"}, {"ps", "--nope"}, {"attach", "--nope", "x"},
	}
	for _, c := range topCommands {
		argsList = append(argsList, []string{c.name, "--help"}, []string{c.name, "-h"}, []string{"--state-dir", "/x", c.name, "--help"})
	}
	for _, sub := range []string{"network create", "network ls", "network inspect", "network rm", "sandbox create", "sandbox ls", "sandbox rm", "dns ls"} {
		argsList = append(argsList, append(strings.Fields(sub), "--help"))
	}
	run := func(lazy bool, args []string) string {
		var out, errb bytes.Buffer
		a := &app{out: &out, err: &errb, euid: func() int { return 1000 }}
		root := newRoot(a)
		if lazy {
			root = newRootFor(a, args)
		}
		code := execute(a, root, args)
		return strings.Join([]string{string(rune('0' + code)), out.String(), errb.String()}, "\n--\n")
	}
	for _, args := range argsList {
		if commandName(args) == "" {
			t.Errorf("%q: the lazy tree is not used", args)
			continue
		}
		if full, lazy := run(false, args), run(true, args); full != lazy {
			t.Errorf("plumb %q: the lazy tree differs.\nwhole tree:\n%s\nlazy tree:\n%s", args, full, lazy)
		}
	}
}

func TestTopCommands(t *testing.T) {
	a := &app{euid: func() int { return 0 }}
	var names []string
	for _, c := range newRoot(a).Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	var table []string
	for _, c := range topCommands {
		table = append(table, c.name)
		if got := c.build(a).Name(); got != c.name {
			t.Errorf("topCommands: %q builds the command %q", c.name, got)
		}
	}
	slices.Sort(table)
	if !slices.Equal(names, table) {
		t.Errorf("commands %q, topCommands %q", names, table)
	}
}

func TestCommandName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, ""}, {[]string{"ps"}, "ps"}, {[]string{"--state-dir", "ps", "attach"}, "attach"},
		{[]string{"--state-dir=/x", "--run-dir", "/r", "network", "ls"}, "network"},
		{[]string{"--state-dir"}, ""}, {[]string{"help", "ps"}, ""}, {[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "ps", ""}, ""}, {[]string{"--help", "ps"}, ""}, {[]string{"-h"}, ""},
		{[]string{"pss"}, ""}, {[]string{"--", "ps"}, ""}, {[]string{"--state-dir", "/x", "--debug", "ps"}, ""},
	} {
		if got := commandName(c.args); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestInterruptHandling: Ctrl-C cancels the context of every command that
// changes something, and is left to the default for the read-only ones.
func TestInterruptHandling(t *testing.T) {
	readOnlyCmds := []string{"dns ls", "explain", "graph", "host ls", "inspect", "network inspect", "network ls", "port", "ps", "sandbox ls"}
	var got []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.HasParent() {
			a := &app{euid: func() int { return 0 }}
			root := newRoot(a)
			cmd, _, err := root.Find(strings.Fields(strings.TrimPrefix(c.CommandPath(), "plumb ")))
			if err != nil {
				t.Fatal(err)
			}
			cmd.SetContext(context.Background())
			if err := root.PersistentPreRunE(cmd, nil); err != nil {
				t.Fatal(err)
			}
			path := strings.TrimPrefix(cmd.CommandPath(), "plumb ")
			if a.stop == nil {
				got = append(got, path)
			} else if cmd.Context().Done() == nil {
				t.Errorf("%s: interrupt handling installed, but its context cannot be cancelled", path)
			}
			if a.stop != nil {
				a.stop()
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&app{euid: func() int { return 0 }}))
	slices.Sort(got)
	if !slices.Equal(got, readOnlyCmds) {
		t.Errorf("commands without interrupt handling: %q, want the read-only ones %q", got, readOnlyCmds)
	}
}
