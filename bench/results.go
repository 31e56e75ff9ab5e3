package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// Results is what the worker measured, passed to the supervisor as JSON.
type Results struct {
	Series []*Series      `json:"series"`
	Notes  []string       `json:"notes"` // facts noticed on the way, for the report
	Loads  []string       `json:"loads"` // "step: 1-minute load average" as each step began
	Error  string         `json:"error"` // why the worker stopped early, if it did
	DNS    *DNSResults    `json:"dns,omitempty"`
	Truth  *TruthResults  `json:"truth,omitempty"`
	See    *SeeResults    `json:"see,omitempty"`
	Repair *RepairResults `json:"repair,omitempty"`

	Peers  map[string]string `json:"peers"`  // tool key -> why it is missing from (part of) the tables
	Bursts []*BurstRun       `json:"bursts"` // the burst test, per tool
	Data   *DataResults      `json:"data,omitempty"`
	// NftData is the nft section's data path: each firewall backend's plumb.
	NftData *DataResults `json:"nft_data,omitempty"`
	// IPv6Data is the ipv6 section's data path: one dual-stack network, over each family.
	IPv6Data *DataResults `json:"ipv6_data,omitempty"`
	// Overlay is the overlay section's data path: across hosts, bare VXLAN, same host.
	Overlay *DataResults `json:"overlay_data,omitempty"`

	DockerBridges []string `json:"docker_bridges"` // the Linux bridges of the run's Docker networks
}

// peerMissing records why a peer is absent from (some of) the tables.
func (r *Results) peerMissing(key, why string) {
	if r.Peers == nil {
		r.Peers = map[string]string{}
	}
	if old, ok := r.Peers[key]; ok {
		why = old + "; " + why
	}
	r.Peers[key] = why
}

// add appends s and returns it.
func (r *Results) add(s *Series) *Series {
	r.Series = append(r.Series, s)
	return s
}

// series returns the series with key, adding it when there is none.
func (r *Results) series(key, tool, op string) *Series {
	if s := r.get(key); s != nil {
		return s
	}
	return r.add(&Series{Key: key, Tool: tool, Op: op})
}

// get returns the series with key, or nil.
func (r *Results) get(key string) *Series {
	for _, s := range r.Series {
		if s.Key == key {
			return s
		}
	}
	return nil
}

// note records a line for the report's notes.
func (r *Results) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// countJSONArray is the length of the JSON array out, or -1 when out is not one.
func countJSONArray(out string) int {
	var xs []json.RawMessage
	if err := json.Unmarshal([]byte(out), &xs); err != nil {
		return -1
	}
	return len(xs)
}

func (r *Results) save(path string) error { return writeJSON(path, r) }

// writeJSON writes v to path as indented JSON.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func loadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	return &r, json.Unmarshal(b, &r)
}
