package cni

import (
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/plumbnet/plumb/network"
)

// Versions are the CNI spec versions plumb speaks: a config of any other
// cniVersion is refused with code 1.
var Versions = version.PluginSupports("0.4.0", "1.0.0", "1.1.0")

// Plugin is plumb's CNI plugin.
type Plugin struct {
	// Open returns the backend for a config's state directory ("" for the
	// default) and its choice of name service.
	Open func(stateDir string, dns bool) Backend
}

// open is p.Open for conf. A real Manager gets conf's firewall choice
// ("firewall", else $PLUMB_FIREWALL): the backend of a host without
// networks yet; one with networks keeps the one recorded (the plugin
// never moves networks between backends: `plumb --firewall X` does).
func (p *Plugin) open(conf *NetConf) Backend {
	b := p.Open(conf.StateDir, !conf.DNS.Off)
	if m, ok := b.(*network.Manager); ok {
		m.FirewallChoice = conf.firewall()
	}
	return b
}

// New returns the plugin over plumb's real state (network.Manager).
func New() *Plugin { return &Plugin{Open: openManager} }

// Main runs one CNI invocation, the way a runtime makes it: skel reads
// CNI_COMMAND and the other CNI_* variables from the environment and the
// config from stdin, and calls the verb; the result, or the CNI error,
// goes to stdout as JSON. It returns the process exit code: 0, or 1 with
// an error printed. No input makes it panic.
func (p *Plugin) Main() (code int) {
	defer func() {
		if r := recover(); r != nil {
			_ = types.NewError(types.ErrInternal, fmt.Sprintf("plumb: internal error: %v", r), "").Print()
			code = 1
		}
	}()
	funcs := skel.CNIFuncs{Add: p.add, Del: p.del, Check: p.check, GC: p.gc, Status: p.status}
	if e := skel.PluginMainFuncsWithError(funcs, Versions, "plumb: Docker's bridge networking as a CNI plugin"); e != nil {
		_ = e.Print()
		return 1
	}
	return 0
}

// add is ADD: the network is created on first use, the namespace
// attached, and the result printed in the config's cniVersion.
func (p *Plugin) add(args *skel.CmdArgs) error {
	conf, e := parseConf(args.StdinData)
	if e != nil {
		return e
	}
	cn, e := conf.validate()
	if e != nil {
		return e
	}
	opts, e := conf.attachRequest(args.Args)
	if e != nil {
		return e
	}
	if opts.Publish, e = conf.publish(); e != nil {
		return e
	}
	var prev types.Result
	if conf.RawPrevResult != nil {
		if prev, e = conf.prevResult(); e != nil {
			return e
		}
	}
	ep, n, err := addVerb(p.open(conf), cn, attachment{
		ContainerID: args.ContainerID, IfName: args.IfName, NetNS: args.Netns,
		Options: opts,
	})
	if err != nil {
		return toError(err)
	}
	r, err := newResult(ep, n, args.Netns, conf.DNS, prev)
	if err != nil {
		return toError(err)
	}
	return printResult(r, conf.CNIVersion)
}

// del is DEL: it needs the config's name (and state dir) only, and
// succeeds when there is nothing left to remove.
func (p *Plugin) del(args *skel.CmdArgs) error {
	conf, e := parseConf(args.StdinData)
	if e != nil {
		return e
	}
	return toError(delVerb(p.open(conf), conf.Name, args.ContainerID, args.IfName))
}

// check is CHECK: the attachment must be whole, and agree with prevResult.
func (p *Plugin) check(args *skel.CmdArgs) error {
	conf, e := parseConf(args.StdinData)
	if e != nil {
		return e
	}
	cn, e := conf.validate()
	if e != nil {
		return e
	}
	var exp network.Expect
	if conf.RawPrevResult != nil {
		prev, e := conf.prevResult()
		if e != nil {
			return e
		}
		if exp, e = expected(prev, args.IfName); e != nil {
			return e
		}
	}
	return toError(checkVerb(p.open(conf), cn.Name, args.ContainerID, args.IfName, args.Netns, exp))
}

// gc is GC: every attachment of the network that
// cni.dev/valid-attachments does not list is released.
func (p *Plugin) gc(args *skel.CmdArgs) error {
	conf, e := parseConf(args.StdinData)
	if e != nil {
		return e
	}
	if _, e := conf.validate(); e != nil {
		return e
	}
	valid := make([][2]string, 0, len(conf.ValidAttachments))
	for _, v := range conf.ValidAttachments {
		valid = append(valid, [2]string{v.ContainerID, v.IfName})
	}
	return toError(gcVerb(p.open(conf), conf.Name, valid))
}

// status is STATUS: an error when no ADD could succeed now.
func (p *Plugin) status(args *skel.CmdArgs) error {
	conf, e := parseConf(args.StdinData)
	if e != nil {
		return e
	}
	cn, e := conf.validate()
	if e != nil {
		return e
	}
	return toError(statusVerb(p.open(conf), cn))
}

// printResult prints r converted to cniVersion on stdout.
func printResult(r types.Result, cniVersion string) error {
	if err := types.PrintResult(r, cniVersion); err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, fmt.Sprintf("printing the result as cniVersion %s: %v", cniVersion, err), "")
	}
	return nil
}
