package integration

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The state directory as the leak counts read it: plain files, decoded by
// the test (not by package network).

// diskNet is a network.json as the test reads it; nil in diskState.nets
// when it is missing or does not parse.
type diskNet struct {
	Name    string       `json:"name"`
	Bridge  string       `json:"bridge"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
}

// diskRec is an endpoint record as the test reads it.
type diskRec struct {
	ID          string            `json:"id"`
	Network     string            `json:"network"`
	Target      string            `json:"target"`
	Kind        string            `json:"kind"`
	ContainerID string            `json:"containerId"`
	NetNS       string            `json:"netns"`
	IP          netip.Prefix      `json:"ip"`
	HostVeth    string            `json:"hostVeth"`
	IfName      string            `json:"ifname"`
	Ports       []json.RawMessage `json:"ports"`
}

// diskState is the state directory read as files.
type diskState struct {
	nets  map[string]*diskNet
	recs  []*diskRec
	addrs map[string]map[string]string // network -> address file -> its content
	odd   []string                     // entries no finished operation leaves: temp files, staging dirs, damaged files
}

// readState reads the state directory dir.
func readState(t *testing.T, dir string) *diskState {
	t.Helper()
	s := &diskState{nets: map[string]*diskNet{}, addrs: map[string]map[string]string{}}
	ents, _ := os.ReadDir(filepath.Join(dir, "networks"))
	for _, e := range ents {
		p := filepath.Join(dir, "networks", e.Name())
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			s.odd = append(s.odd, p)
			continue
		}
		var n diskNet
		if b, err := os.ReadFile(filepath.Join(p, "network.json")); err == nil && json.Unmarshal(b, &n) == nil && n.Name == e.Name() {
			s.nets[e.Name()] = &n
		} else {
			s.nets[e.Name()] = nil
			s.odd = append(s.odd, filepath.Join(p, "network.json"))
		}
		s.readEndpoints(e.Name(), filepath.Join(p, "endpoints"))
		s.addrs[e.Name()] = map[string]string{}
		ips, _ := os.ReadDir(filepath.Join(p, "ips"))
		for _, ip := range ips {
			if _, err := netip.ParseAddr(ip.Name()); err != nil {
				s.odd = append(s.odd, filepath.Join(p, "ips", ip.Name()))
				continue
			}
			b, _ := os.ReadFile(filepath.Join(p, "ips", ip.Name()))
			s.addrs[e.Name()][ip.Name()] = strings.TrimSpace(string(b))
		}
	}
	saved, _ := os.ReadDir(filepath.Join(dir, "targets"))
	for _, f := range saved {
		key, _ := strings.CutSuffix(f.Name(), ".resolv.conf")
		if !s.hasID(key) {
			s.odd = append(s.odd, filepath.Join(dir, "targets", f.Name()))
		}
	}
	return s
}

func (s *diskState) readEndpoints(netName, dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		var r diskRec
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if !ok || strings.HasPrefix(e.Name(), ".") || err != nil || json.Unmarshal(b, &r) != nil || r.ID != id || r.Network != netName {
			s.odd = append(s.odd, filepath.Join(dir, e.Name()))
			continue
		}
		s.recs = append(s.recs, &r)
	}
}

// hasID reports whether some record has id.
func (s *diskState) hasID(id string) bool {
	for _, r := range s.recs {
		if r.ID == id {
			return true
		}
	}
	return false
}

// rec is the record of id on netName, or nil.
func (s *diskState) rec(netName, id string) *diskRec {
	for _, r := range s.recs {
		if r.Network == netName && r.ID == id {
			return r
		}
	}
	return nil
}

// recOf is the record of target on netName (any network when ""), or nil.
func (s *diskState) recOf(target, netName string) *diskRec {
	for _, r := range s.recs {
		if r.Target == target && (netName == "" || r.Network == netName) {
			return r
		}
	}
	return nil
}
