package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/daemon"
)

// The cluster half of plumb lives in plumb-cluster, beside the plumb
// binary, so that plumb never links the etcd client: these commands exec it.

// clusterExe is plumb-cluster beside this binary, or one line saying it
// is missing.
func clusterExe() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding plumb-cluster: %w", err)
	}
	exe := filepath.Join(filepath.Dir(self), "plumb-cluster")
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Errorf("plumb-cluster is not installed beside plumb (%s): the cluster commands need it", exe)
	}
	return exe, nil
}

// storeURL is --store, else $PLUMB_STORE, or one line saying neither is set.
func storeURL(flag string) (string, error) {
	if flag == "" {
		flag = os.Getenv("PLUMB_STORE")
	}
	if flag == "" {
		return "", errors.New("no cluster store: give --store etcd://HOST:2379 or set PLUMB_STORE")
	}
	return flag, nil
}

// runCluster runs `plumb-cluster ARGS --store URL`, its output to out; its
// error line, without its "plumb-cluster: " prefix, is the error.
func runCluster(out io.Writer, store string, args ...string) error {
	url, err := storeURL(store)
	if err != nil {
		return err
	}
	exe, err := clusterExe()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, append(args, "--store", url)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		if msg = strings.TrimPrefix(msg, "plumb-cluster: "); msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

func newHostCmd(a *app) *cobra.Command {
	var store string
	c := &cobra.Command{Use: "host", Short: "The hosts of the cluster store (plumb daemon --store)"}
	ls := &cobra.Command{
		Use:         "ls",
		Short:       "List the cluster's live hosts, their underlay address and lease",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotReadOnly: "yes", "root": "no"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCluster(a.out, store, "host", "ls")
		},
	}
	rm := &cobra.Command{
		Use:         "rm NAME",
		Short:       "Remove a host that is gone from the store: its record, address blocks and endpoints",
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"root": "no"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCluster(a.out, store, "host", "rm", args[0])
		},
	}
	for _, sub := range []*cobra.Command{ls, rm} {
		sub.Flags().StringVar(&store, "store", "", "cluster store etcd://HOST:PORT[,HOST:PORT...] (env PLUMB_STORE)")
		c.AddCommand(sub)
	}
	return c
}

// overlayCreate creates an overlay network in the store (plumb network
// create --driver overlay): every host's agent makes it there.
func overlayCreate(a *app, store, name string, subnets, gateways []string, mtu int, internal bool) error {
	if len(subnets) > 1 || len(gateways) > 1 {
		return errors.New("an overlay network has one IPv4 subnet: give --subnet once")
	}
	args := []string{"network", "create", name}
	if len(subnets) == 1 {
		args = append(args, "--subnet", subnets[0])
	}
	if len(gateways) == 1 {
		args = append(args, "--gateway", gateways[0])
	}
	if mtu != 0 {
		args = append(args, "--mtu", fmt.Sprint(mtu))
	}
	if internal {
		args = append(args, "--internal")
	}
	return runCluster(a.out, store, args...)
}

// overlayRm removes an overlay network from the store (plumb network rm
// of an overlay network): every host's agent removes it there.
func overlayRm(a *app, store, name string, force bool) error {
	args := []string{"network", "rm", name}
	if force {
		args = append(args, "--force")
	}
	return runCluster(a.out, store, args...)
}

// daemonAgent is the cluster agent `plumb daemon` runs with a store (flag
// or $PLUMB_STORE), or nil without one.
func daemonAgent(a *app, store, host, underlay string, ttl time.Duration) (*daemon.Agent, error) {
	if store == "" {
		store = os.Getenv("PLUMB_STORE")
	}
	if store == "" {
		return nil, nil
	}
	if !strings.HasPrefix(store, "etcd://") || len(store) == len("etcd://") {
		return nil, fmt.Errorf("--store %q: want etcd://HOST[:PORT][,HOST[:PORT]...]", store)
	}
	// A daemon started by another command inherits these.
	host, underlay = cmp.Or(host, os.Getenv("PLUMB_HOST")), cmp.Or(underlay, os.Getenv("PLUMB_UNDERLAY"))
	exe, err := clusterExe()
	if err != nil {
		return nil, err
	}
	ag := &daemon.Agent{Exe: exe, Store: store, Host: host, StateDir: a.manager().StateDir, RunDir: a.manager().RunDirPath(),
		Args: []string{"--ttl", ttl.String()}}
	if ag.Host == "" {
		if ag.Host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("--host not given and no hostname: %w", err)
		}
	}
	if underlay != "" {
		if ag.Underlay, err = netip.ParseAddr(underlay); err != nil {
			return nil, fmt.Errorf("--underlay %q: not an IP address", underlay)
		}
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("--lease-ttl %s: want at least 1s", ttl)
	}
	return ag, nil
}
