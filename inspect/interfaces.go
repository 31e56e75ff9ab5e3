package inspect

import (
	"strings"

	"github.com/plumbnet/plumb/nsview"
)

// interfaces pairs each veth inside with its host end: the host link whose
// index is the veth's peer index and whose own peer index is the veth's
// (a veth to a third namespace has no host end), and that end's bridge.
// Equivalent to: `nsenter --net=NS ip -d addr; ip -d link show HOSTVETH`.
func interfaces(ns string, links []nsview.Link, err error) Section[[]Interface] {
	s := Section[[]Interface]{Error: errText(err)}
	var host []nsview.Link
	if hasVeth(links) {
		var herr error
		if host, herr = nsview.Links(nsview.HostNS); herr != nil && s.Error == "" {
			s.Error = "host side: " + herr.Error()
		}
	}
	byIndex := map[int]nsview.Link{}
	for _, l := range host {
		byIndex[l.Index] = l
	}
	var peers []string
	for _, l := range links {
		in := Interface{Link: l}
		if p, ok := byIndex[l.PeerIndex]; ok && l.PeerIndex != 0 && p.Kind == "veth" && p.PeerIndex == l.Index {
			in.HostPeer = &HostPeer{Name: p.Name, Index: p.Index}
			if m, ok := byIndex[p.MasterIndex]; ok && p.MasterIndex != 0 {
				in.HostPeer.Bridge = m.Name
			}
			peers = append(peers, "ip -d link show "+p.Name)
		}
		s.Items = append(s.Items, in)
	}
	s.Command = strings.Join(append([]string{enter(ns, "ip -d addr")}, peers...), "; ")
	return s
}

func hasVeth(links []nsview.Link) bool {
	for _, l := range links {
		if l.Kind == "veth" && l.PeerIndex != 0 {
			return true
		}
	}
	return false
}
