package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon"
	"github.com/plumbnet/plumb/network"
)

func newDaemonCmd(a *app) *cobra.Command {
	var upstreams []string
	var exitIdle bool
	var grace, every time.Duration
	var reconcile bool
	var store, host, underlay string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "daemon",
		Short: "Run the name service (Docker's embedded DNS at 127.0.0.11)",
		Long: `Run plumb's name service in the foreground: a DNS server at 127.0.0.11:53 inside
every attached namespace and on every network's gateway address, answering the names of
the client's networks and forwarding the rest to the upstream servers, from the host.

It also keeps the host true: at start it restores every network and every endpoint whose
namespace still exists (after a reboot), then repairs what drifts (a firewall flush, a
deleted bridge or veth) and follows Docker's container starts to attach restarted
containers again. An endpoint whose namespace is gone has its published ports let go at
once and keeps its address for --stale-grace, then is detached.

The first network create or attach starts it when it is not running; lab/plumb.service
runs it under systemd, the way for hosts that reboot.
Upstreams: --upstream (repeatable), else $PLUMB_DNS_UPSTREAM (comma-separated); either
may be "none" for no forwarding; else the nameservers of the host's /etc/resolv.conf.

With --store (or $PLUMB_STORE) the host joins a cluster of plumb hosts over etcd: the
daemon runs plumb-cluster agent (installed beside plumb) and starts it again when it
dies; overlay networks (plumb network create --driver overlay) then reach every host,
and 127.0.0.11 answers the names of every host's endpoints on them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ups, err := upstreamServers(upstreams)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			if err := durationFlags(cmd, &grace, &every); err != nil {
				return err
			}
			if v := os.Getenv("PLUMB_RECONCILE"); v != "" && !cmd.Flags().Changed("reconcile") {
				if v != "on" && v != "off" {
					return fmt.Errorf("PLUMB_RECONCILE=%q: want on or off", v)
				}
				reconcile = v == "on"
			}
			agent, err := daemonAgent(a, store, host, underlay, ttl)
			if err != nil {
				return err
			}
			m := a.manager()
			return daemon.Run(ctx, m, daemon.Options{RunDir: m.RunDirPath(), Upstreams: ups, ExitWhenIdle: exitIdle,
				StaleGrace: grace, ReconcileEvery: every, NoReconcile: !reconcile, Agent: agent})
		},
	}
	c.Flags().StringArrayVar(&upstreams, "upstream", nil, `upstream DNS server IP[:PORT] (repeatable), or "none" for no forwarding`)
	c.Flags().BoolVar(&exitIdle, "exit-when-idle", false, "exit once no network is left (set when a command starts the daemon)")
	c.Flags().DurationVar(&grace, "stale-grace", daemon.DefaultStaleGrace,
		"how long an endpoint whose namespace is gone keeps its address for its container to come back ($PLUMB_STALE_GRACE)")
	c.Flags().BoolVar(&reconcile, "reconcile", true,
		"repair what drifts and restore at start; with --reconcile=false drift stays for `plumb doctor` to find ($PLUMB_RECONCILE=on|off)")
	c.Flags().StringVar(&store, "store", "", "join the cluster of this store, etcd://HOST:PORT[,...] (env PLUMB_STORE): runs plumb-cluster agent beside the daemon")
	c.Flags().StringVar(&host, "host", "", "with --store: this host's name in the cluster (env PLUMB_HOST; default: the hostname)")
	c.Flags().StringVar(&underlay, "underlay", "", "with --store: this host's VTEP address (env PLUMB_UNDERLAY; default: the address of the default route's interface)")
	c.Flags().DurationVar(&ttl, "lease-ttl", 10*time.Second, "with --store: this host's lease; its names go from the other hosts this long after it dies")
	c.Flags().DurationVar(&every, "reconcile-every", daemon.DefaultReconcileEvery,
		"period of the full check of the kernel against the state, beside the kernel's notifications")
	return c
}

// durationFlags takes --stale-grace from $PLUMB_STALE_GRACE when the flag
// is not given (a daemon started by another command inherits it), and
// refuses durations that are not positive.
func durationFlags(cmd *cobra.Command, grace, every *time.Duration) error {
	if env := os.Getenv("PLUMB_STALE_GRACE"); env != "" && !cmd.Flags().Changed("stale-grace") {
		d, err := time.ParseDuration(env)
		if err != nil {
			return fmt.Errorf("PLUMB_STALE_GRACE=%q: not a duration (e.g. 10m, 30s)", env)
		}
		*grace = d
	}
	if *grace <= 0 {
		return fmt.Errorf("--stale-grace %s: must be positive", *grace)
	}
	if *every <= 0 {
		return fmt.Errorf("--reconcile-every %s: must be positive", *every)
	}
	return nil
}

// upstreamServers picks the daemon's upstreams: flags, else
// $PLUMB_DNS_UPSTREAM, else the host's resolv.conf. "none", alone, in the
// flags or the variable means no forwarding (nil); beside servers it is an
// error.
func upstreamServers(flags []string) ([]netip.AddrPort, error) {
	list := flags
	if len(list) == 0 {
		if env := os.Getenv("PLUMB_DNS_UPSTREAM"); env != "" {
			list = strings.Split(env, ",")
		}
	}
	for _, s := range list {
		if strings.TrimSpace(s) == "none" {
			if len(list) > 1 {
				return nil, fmt.Errorf("upstreams %q: \"none\" turns forwarding off and cannot go with servers", strings.Join(list, ","))
			}
			return nil, nil
		}
	}
	if len(list) == 0 {
		f, err := os.Open(container.HostResolvConf)
		if err != nil {
			return nil, nil
		}
		defer f.Close()
		rc, _ := container.ParseResolvConf(f)
		var out []netip.AddrPort
		for _, ns := range rc.Nameservers {
			out = append(out, netip.AddrPortFrom(ns, 53))
		}
		return out, nil
	}
	var out []netip.AddrPort
	for _, s := range list {
		s = strings.TrimSpace(s)
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap)
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid upstream %q: want IP or IP:PORT", s)
		}
		out = append(out, netip.AddrPortFrom(ip, 53))
	}
	return out, nil
}

// endpointColumn is how `plumb dns ls` shows a record's endpoint: its
// short id, and for another host's endpoint of an overlay network
// ("remote/HOST/ID") HOST/ and its short id.
func endpointColumn(id string) string {
	if rest, ok := strings.CutPrefix(id, "remote/"); ok {
		if host, local, ok := strings.Cut(rest, "/"); ok {
			return host + "/" + shortID(local)
		}
	}
	return shortID(id)
}

func newDNSCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "dns", Short: "Inspect the name service"}
	var netName, format string
	ls := &cobra.Command{
		Use:         "ls",
		Short:       "List the records the daemon serves",
		Args:        cobra.NoArgs,
		Annotations: readOnly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			recs, err := a.manager().DNSRecords(netName)
			if errors.Is(err, network.ErrDaemonNotRunning) {
				return errors.New("the plumb daemon is not running: it starts with the first attach, or run `plumb daemon`")
			}
			if err != nil {
				return err
			}
			if format == "json" {
				if recs == nil {
					recs = []network.DNSRecord{}
				}
				return writeJSON(a.out, recs)
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "NETWORK\tNAME\tIP\tENDPOINT")
			for _, r := range recs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Network, r.Name, r.IP, endpointColumn(r.Endpoint))
			}
			return w.Flush()
		},
	}
	ls.Flags().StringVar(&netName, "net", "", "only records of this network")
	ls.Flags().StringVar(&format, "format", "", "output format: table or json")
	c.AddCommand(ls)
	return c
}
