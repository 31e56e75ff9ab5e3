package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/doctor"
	"github.com/plumbnet/plumb/network"
)

func newDoctorCmd(a *app) *cobra.Command {
	var fix bool
	var format string
	c := &cobra.Command{
		Use:   "doctor [--fix]",
		Short: "Find what is wrong with plumb's networks and the host they live on",
		Long: `Compare what plumb means the host to be (its state directory) with what the kernel
holds, and look for what on the host stands in plumb's way. One line per finding: what is
wrong, what it means, and the fix. Exit 0 when no problem is found, 1 when one remains.

With --fix, repair what is plumb's own (its bridges, rules, endpoints, address files,
links, the daemon); for the rest (the host's own rules and settings) the line gives the
command to run. Without --fix, doctor changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			m := a.manager()
			d := &doctor.Doctor{M: m, Host: doctor.HostChecks(m)}
			var found []*doctor.Finding
			var remaining int
			if fix {
				found, remaining = d.Heal(cmd.Context())
			} else {
				found = d.Examine(cmd.Context())
				remaining = doctor.Remaining(found)
			}
			if format == "json" {
				if found == nil {
					found = []*doctor.Finding{}
				}
				if err := writeJSON(a.out, found); err != nil {
					return err
				}
			} else {
				printBackend(a.out, m)
				printFindings(a.out, found, fix)
			}
			if remaining > 0 {
				verb := " remain"
				if remaining == 1 {
					verb = " remains"
				}
				return errors.New(plural(remaining, "problem") + verb)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&fix, "fix", false, "repair what is plumb's own; print the command for the rest")
	c.Flags().StringVar(&format, "format", "", "output format: table or json")
	return c
}

// printBackend writes the line that says which firewall backend plumb's
// networks use, and where that is recorded:
//
//	firewall: nftables (table inet plumb-networks; recorded in /var/lib/plumb/firewall.json)
func printBackend(w io.Writer, m *network.Manager) {
	b, err := m.FirewallBackend()
	if err != nil {
		fmt.Fprintf(w, "firewall: unknown (%v)\n", err)
		return
	}
	what := "plumb's PLUMB-* chains"
	if b == network.FirewallNftables {
		what = "table inet plumb-networks"
	}
	where := "recorded in " + m.FirewallRecordPath()
	if rec, _ := m.RecordedFirewall(); rec == "" {
		where = "not recorded yet: the next network create records it"
	}
	fmt.Fprintf(w, "firewall: %s (%s; %s)\n", b, what, where)
}

// printFindings writes one line per finding, then a summary.
func printFindings(w io.Writer, fs []*doctor.Finding, fixed bool) {
	problems, notes := 0, 0
	for _, f := range fs {
		status := f.Severity
		switch {
		case f.Fixed:
			status = "fixed"
		case f.FixError != "":
			status = "fix failed: " + f.FixError
		}
		label := "Fix"
		switch {
		case f.Severity == doctor.Note:
			label = "What to do"
		case !f.Owned:
			label = "Fix by hand"
		}
		fmt.Fprintf(w, "[%s] %s: %s. %s. %s: %s.\n", status, f.Subject, f.What, capital(f.Means), label, f.Fix)
		if f.Severity == doctor.Problem {
			problems++
		} else {
			notes++
		}
	}
	switch {
	case len(fs) == 0:
		fmt.Fprintln(w, "no problem found")
	case !fixed && problems > 0:
		fmt.Fprintf(w, "%s, %s: `plumb doctor --fix` repairs what is plumb's\n", plural(problems, "problem"), plural(notes, "note"))
	default:
		fmt.Fprintf(w, "%s, %s\n", plural(problems, "problem"), plural(notes, "note"))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
