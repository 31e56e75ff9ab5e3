package network

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/plumbnet/plumb/container"
)

// The files plumb writes for netns targets (/etc/netns/NAME/hosts and
// resolv.conf), which every plumb on the host shares: one state directory
// judges only the targets it wrote files for (netnsTargets), and in their
// hosts files only the lines of its own networks. Another state
// directory's targets (a CNI runtime's plumb, another test's) are not its
// leftovers.

// netnsTarget is a netns target whose files this state directory wrote.
type netnsTarget struct {
	recorded bool   // an endpoint record names it
	saved    string // else the key of the original resolv.conf kept for it
}

// netnsTargets lists, by netns name, the targets whose /etc/netns/NAME
// files this state directory wrote: those an endpoint record names, and
// those whose original resolv.conf it keeps though no record is left (a
// detach cut short, a damaged record cleared). The key of a namespace is
// read only for the latter, and only when there are some. It fails when
// the records cannot all be read (records).
func (m *Manager) netnsTargets() (map[string]netnsTarget, error) {
	recs, err := m.records()
	if err != nil {
		return nil, err
	}
	out := map[string]netnsTarget{}
	ids := map[string]bool{}
	for _, eps := range recs {
		for _, ep := range eps {
			ids[ep.ID] = true
			if container.Kind(ep.Kind) == container.KindNetNS {
				out[filepath.Base(ep.NetNS)] = netnsTarget{recorded: true}
			}
		}
	}
	saved := map[string]bool{}
	ents, _ := os.ReadDir(filepath.Join(m.StateDir, "targets"))
	for _, e := range ents {
		if key, ok := strings.CutSuffix(e.Name(), ".resolv.conf"); ok && !ids[key] {
			saved[key] = true
		}
	}
	if len(saved) == 0 {
		return out, nil
	}
	names, err := container.NetnsNames()
	if err != nil {
		return nil, err
	}
	for _, ns := range names {
		if _, ok := out[ns]; ok {
			continue
		}
		if key, err := container.NetNSKey(filepath.Join("/var/run/netns", ns)); err == nil && saved[key] {
			out[ns] = netnsTarget{saved: key}
		}
	}
	return out, nil
}

// TargetFileLeftovers lists, for the netns targets this state directory
// wrote files for (/etc/netns/NAME), the hosts tags (NET/ID) of its
// networks that no endpoint record has any more, by netns name: lines a
// damaged record or a lost record left.
func (m *Manager) TargetFileLeftovers() (map[string][]string, error) {
	targets, err := m.netnsTargets()
	if err != nil {
		return nil, err
	}
	nets, err := m.networkNames()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for ns := range targets {
		tags, err := container.HostsTags(container.HostsFileOf(container.KindNetNS, "netns:"+ns, ""))
		if err != nil {
			continue
		}
		for _, tag := range tags {
			netName, id, ok := cutTag(tag)
			if !ok || !slices.Contains(nets, netName) {
				continue
			}
			if _, err := m.Endpoint(netName, id); errors.Is(err, ErrNotAttached) {
				out[ns] = append(out[ns], tag)
			}
		}
	}
	return out, nil
}

// RemoveTargetHosts removes the hosts lines tagged tag from the hosts
// file of netns target ns.
func (m *Manager) RemoveTargetHosts(ns, tag string) error {
	return container.RemoveHosts(container.HostsFileOf(container.KindNetNS, "netns:"+ns, ""), tag)
}

// cutTag splits a hosts tag NET/ID.
func cutTag(tag string) (netName, id string, ok bool) {
	netName, id, _ = strings.Cut(tag, "/")
	return netName, id, netName != "" && id != ""
}

// StrayResolv is the resolv.conf of a netns target NS whose original this
// state directory keeps (under Key) though no endpoint of it is left.
// Pointed: the file still points at 127.0.0.11; else only the kept
// original is left over.
type StrayResolv struct {
	NS, Key string
	Pointed bool
}

// StrayResolvs lists the netns targets (/etc/netns/NAME) this state
// directory pointed at 127.0.0.11 and of which no endpoint is left: what a
// detach cut short or a cleared damaged record leaves.
func (m *Manager) StrayResolvs() ([]StrayResolv, error) {
	targets, err := m.netnsTargets()
	if err != nil {
		return nil, err
	}
	var out []StrayResolv
	for ns, t := range targets {
		if t.recorded {
			continue
		}
		pointed, _ := container.Pointed(container.ResolvFileOf(container.KindNetNS, "netns:"+ns, ""))
		out = append(out, StrayResolv{NS: ns, Key: t.saved, Pointed: pointed})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NS < out[j].NS })
	return out, nil
}

// RestoreTargetResolv puts back the resolv.conf of s.NS as it was before
// plumb pointed it at 127.0.0.11, from the original kept under s.Key,
// unless someone else rewrote it since; a file that then adds nothing to
// the host's goes, and so does the kept original: as a detach does
// (restoreResolv).
func (m *Manager) RestoreTargetResolv(s StrayResolv) error {
	return m.restoreResolv(container.ResolvFileOf(container.KindNetNS, "netns:"+s.NS, ""), s.Key, "")
}
