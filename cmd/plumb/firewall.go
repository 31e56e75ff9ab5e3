package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/network"
)

// firewallChoice takes --firewall, else $PLUMB_FIREWALL, and refuses a
// value that names no backend.
func (a *app) firewallChoice(cmd *cobra.Command) error {
	source := "--firewall"
	if !cmd.Flags().Changed("firewall") {
		a.firewall, source = os.Getenv("PLUMB_FIREWALL"), "PLUMB_FIREWALL"
	}
	if network.CheckFirewallChoice(a.firewall) != nil {
		return fmt.Errorf("%s %q: want nftables, iptables or auto", source, a.firewall)
	}
	return nil
}

// switchFirewall moves the host's networks to the backend --firewall
// names, before a command that changes the host (the daemon included)
// runs: the command then writes with it, and every plumb process after it
// follows the record. A command that changes nothing (doctor without
// --fix), or a dry run, moves nothing. One line on stderr says what moved.
func (a *app) switchFirewall(cmd *cobra.Command) error {
	if a.firewall == "" || a.firewall == network.FirewallAuto || cmd.Annotations[annotReadOnly] == "yes" {
		return nil
	}
	if f := cmd.Flags().Lookup("dry-run"); f != nil && f.Value.String() == "true" {
		return nil
	}
	if f := cmd.Flags().Lookup("fix"); f != nil && f.Value.String() != "true" {
		return nil // doctor without --fix changes nothing
	}
	if f := cmd.Flags().Lookup("exit-when-idle"); f != nil && f.Value.String() == "true" {
		// A daemon another command started (which may hold the global
		// lock while it waits for it): that command chose, the daemon
		// follows the record. Its inherited $PLUMB_FIREWALL may be the CNI
		// plugin's, which never moves networks.
		return nil
	}
	if cmd.Annotations["root"] == "no" {
		return nil
	}
	sw, err := a.manager().SwitchFirewall(a.firewall)
	if sw.Moved() {
		fmt.Fprintln(a.err, "plumb: firewall: "+sw.String())
	}
	return err
}
