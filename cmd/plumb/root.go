package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
)

// Exit codes, as Docker's CLI uses them.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks an error in how plumb was called (unknown flag, wrong
// number of arguments): exit code 2.
type usageError struct{ error }

// app carries what every command shares.
type app struct {
	// argv is the command line as typed (os.Args), for the header of a
	// dry run's script; runApp makes one of its args when empty.
	argv     []string
	stateDir string
	runDir   string
	// firewall is --firewall, else $PLUMB_FIREWALL: "", auto, iptables
	// or nftables.
	firewall string
	out, err io.Writer
	euid     func() int // os.Geteuid; tests replace it
	stop     func()     // ends the interrupt handling PersistentPreRunE started
}

// annotReadOnly marks a command that changes nothing: Ctrl-C may kill it at
// once, so it runs without plumb's interrupt handling (see newRoot).
const annotReadOnly = "readonly"

// readOnly is the Annotations of a command that changes nothing.
func readOnly() map[string]string { return map[string]string{annotReadOnly: "yes"} }

func (a *app) manager() *network.Manager {
	m := network.NewManager(a.stateDir)
	m.RunDir = a.runDir
	m.FirewallChoice = a.firewall
	if step := os.Getenv("PLUMB_INJECT_FAULT"); step != "" {
		// Test hook: fail the named step of attach or create, to prove rollback.
		m.Fault = func(s string) error {
			if s == step {
				return errors.New("injected fault")
			}
			return nil
		}
	}
	return m
}

// run executes plumb with args and returns the exit code. Errors are
// printed as one line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	argv := append([]string{os.Args[0]}, args...)
	return runApp(&app{argv: argv, out: stdout, err: stderr, euid: os.Geteuid}, args)
}

// runApp is run with the app's dependencies given, for tests.
func runApp(a *app, args []string) int {
	if len(a.argv) == 0 {
		a.argv = append([]string{"plumb"}, args...)
	}
	return execute(a, newRootFor(a, args), args)
}

// execute runs root with args and returns the exit code.
func execute(a *app, root *cobra.Command, args []string) (code int) {
	stderr := a.err
	defer func() {
		// No input may crash plumb with a stack trace: report one line.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "plumb: internal error: %v\n", r)
			code = exitError
		}
	}()
	root.SetArgs(args)
	root.SetOut(a.out)
	root.SetErr(a.err)
	defer func() {
		if a.stop != nil {
			a.stop()
		}
	}()
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "plumb: "+oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "See 'plumb --help'.")
		return exitUsage
	}
	return exitError
}

// oneLine folds a multi-error into a single line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

// topCommand is one of plumb's commands and the name that runs it.
type topCommand struct {
	name  string
	build func(*app) *cobra.Command
}

// topCommands are plumb's commands, in the order help lists them.
var topCommands = []topCommand{
	{"network", newNetworkCmd}, {"attach", newAttachCmd}, {"detach", newDetachCmd}, {"ps", newPsCmd},
	{"port", newPortCmd}, {"daemon", newDaemonCmd}, {"dns", newDNSCmd}, {"sandbox", newSandboxCmd}, {"hold", newHoldCmd},
	{"doctor", newDoctorCmd}, {"inspect", newInspectCmd}, {"explain", newExplainCmd}, {"graph", newGraphCmd},
	{"host", newHostCmd},
}

// newRoot is plumb's whole command tree.
func newRoot(a *app) *cobra.Command { return newRootFor(a, nil) }

// newRootFor is the command tree that runs args. When args name one of
// plumb's commands, the root holds that one alone and no completion
// command: building the eight others, their flags and cobra's completion
// command took 0.15-0.2 ms of every run (perfnotes/README.md), and nothing
// of theirs shows in that command's help or errors (TestLazyTreeSameOutput).
// Help, completion, a typo or an unusual flag get the whole tree.
func newRootFor(a *app, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "plumb",
		Short: "Docker's bridge networking, built by hand",
		Long: `plumb wires network namespaces together the way Docker's user-defined bridge
networks do: a bridge per network, a veth pair into each container, addresses from a
file IPAM, masquerade and isolation rules, and names in /etc/hosts.

  plumb network create sinatra-net
  plumb attach sinatra-web --net sinatra-net
  plumb ps`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.stateDir == "" {
				a.stateDir = os.Getenv("PLUMB_STATE_DIR")
			}
			if a.runDir == "" {
				a.runDir = os.Getenv("PLUMB_RUN_DIR")
			}
			if err := a.firewallChoice(cmd); err != nil {
				return err
			}
			if a.euid() != 0 && cmd.Annotations["root"] != "no" {
				return errors.New("this command needs root: run it with sudo")
			}
			if err := a.switchFirewall(cmd); err != nil {
				return err
			}
			if cmd.Annotations[annotReadOnly] != "yes" {
				// Ctrl-C cancels the command's context, so that what it
				// changed is undone. A command that changes nothing is left
				// to the default (exit at once) and skips the signal
				// thread os/signal starts, ~0.3 ms (perfnotes/README.md).
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
				cmd.SetContext(ctx)
				a.stop = stop
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.stateDir, "state-dir", "", "state directory (env PLUMB_STATE_DIR, default "+network.DefaultStateDir+")")
	root.PersistentFlags().StringVar(&a.runDir, "run-dir", "", "daemon socket and pid directory (env PLUMB_RUN_DIR; default "+control.DefaultRunDir+", or STATE_DIR/run with another --state-dir)")
	root.PersistentFlags().StringVar(&a.firewall, "firewall", "", "firewall backend: nftables, iptables or auto (env PLUMB_FIREWALL); naming the other one moves the host's networks to it; default: the one they use, iptables on a host without any")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	name := commandName(args)
	for _, c := range topCommands {
		if name == "" || c.name == name {
			root.AddCommand(c.build(a))
		}
	}
	if name != "" {
		root.CompletionOptions.DisableDefaultCmd = true
	}
	wrapArgs(root)
	return root
}

// commandName returns the top-level command args run, when that is
// certain: the first argument after the root's own flags with their values
// (--state-dir DIR, --run-dir=DIR, --firewall X) names one of topCommands. Otherwise "".
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--state-dir" || arg == "--run-dir" || arg == "--firewall":
			i++
		case strings.HasPrefix(arg, "--state-dir=") || strings.HasPrefix(arg, "--run-dir=") || strings.HasPrefix(arg, "--firewall="):
		default:
			if slices.ContainsFunc(topCommands, func(c topCommand) bool { return c.name == arg }) {
				return arg
			}
			return ""
		}
	}
	return ""
}

// wrapArgs makes every command's argument-count errors usage errors, and
// makes a group command without a subcommand a usage error too.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return usageError{fmt.Errorf("%q needs a subcommand", cmd.CommandPath())}
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}
