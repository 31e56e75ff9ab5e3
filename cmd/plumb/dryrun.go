package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/script"
)

// dryRun is the --dry-run flag of the commands that change the host.
type dryRun struct{ on bool }

func (d *dryRun) register(f *pflag.FlagSet) {
	f.BoolVar(&d.on, "dry-run", false, "change nothing: print, as a script for a root shell, the commands that would make the change")
}

// manager is a's manager, recording into a script when the flag is on.
func (d *dryRun) manager(a *app) *network.Manager {
	m := a.manager()
	if d.on {
		m.DryRun = &script.Script{}
	}
	return m
}

// print writes m's script under a header naming the command as typed,
// every flag included, with `set -e` so that the first failing line stops
// it.
func (d *dryRun) print(a *app, m *network.Manager, cmd *cobra.Command, args []string) error {
	fmt.Fprintf(a.out, "#!/bin/sh\n# %s changed nothing; these commands would make the change (as root):\nset -e\n", commandLine(a.argv))
	_, err := m.DryRun.WriteTo(a.out)
	return err
}

// printDetach prints the script of a detach; not attached is nothing to
// do, a comment, as detach says it without --dry-run.
func (d *dryRun) printDetach(a *app, m *network.Manager, cmd *cobra.Command, args []string, err error) error {
	if errors.Is(err, network.ErrNotAttached) {
		m.DryRun.Comment("%s, nothing to do", strings.TrimSpace(err.Error()))
	} else if err != nil {
		return err
	}
	return d.print(a, m, cmd, args)
}

// commandLine is argv as one line a shell reads back the same: each word
// quoted when it needs it, a newline in one written \n so that the line
// stays one comment.
func commandLine(argv []string) string {
	q := make([]string, len(argv))
	for i, w := range argv {
		q[i] = strings.ReplaceAll(script.Quote(w), "\n", `\n`)
	}
	return strings.Join(q, " ")
}
