package network

import (
	"errors"
	"slices"

	"github.com/plumbnet/plumb/container"
)

// TargetFileLeftovers lists, for the netns targets plumb writes files for
// (/etc/netns/NAME), the hosts tags (NET/ID) no endpoint record has any
// more, by netns name: lines a killed detach left.
func (m *Manager) TargetFileLeftovers() (map[string][]string, error) {
	names, err := container.NetnsNames()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, ns := range names {
		f := container.HostsFileOf(container.KindNetNS, "netns:"+ns, "")
		tags, err := container.HostsTags(f)
		if err != nil {
			continue
		}
		for _, tag := range tags {
			netName, id, ok := cutTag(tag)
			if !ok {
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
	for i := 0; i < len(tag); i++ {
		if tag[i] == '/' {
			return tag[:i], tag[i+1:], tag[:i] != "" && tag[i+1:] != ""
		}
	}
	return "", "", false
}

// RestoreTargetResolv puts back the resolv.conf of netns target ns that
// plumb pointed at 127.0.0.11 when no endpoint of it is left: its saved
// original when there is one, else none (the file plumb made goes).
func (m *Manager) RestoreTargetResolv(ns string) error {
	f := container.ResolvFileOf(container.KindNetNS, "netns:"+ns, "")
	if f == nil {
		return nil
	}
	return f.Remove()
}

// PointedTargets lists the netns targets (/etc/netns/NAME) whose
// resolv.conf plumb wrote while no endpoint record names them: a killed
// detach's leftovers.
func (m *Manager) PointedTargets() ([]string, error) {
	names, err := container.NetnsNames()
	if err != nil {
		return nil, err
	}
	all, err := m.AllEndpoints("")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range names {
		f := container.ResolvFileOf(container.KindNetNS, "netns:"+ns, "")
		if f == nil {
			continue
		}
		if ok, _ := container.Pointed(f); !ok {
			continue
		}
		if !slices.ContainsFunc(all, func(ep *Endpoint) bool { return ep.Target == "netns:"+ns }) {
			out = append(out, ns)
		}
	}
	return out, nil
}
