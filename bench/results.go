package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// Results is what the worker measured, passed to the supervisor as JSON.
type Results struct {
	Series []*Series   `json:"series"`
	Notes  []string    `json:"notes"` // facts noticed on the way, for the report
	Loads  []string    `json:"loads"` // "step: 1-minute load average" as each step began
	Error  string      `json:"error"` // why the worker stopped early, if it did
	DNS    *DNSResults `json:"dns,omitempty"`
}

// add appends s and returns it.
func (r *Results) add(s *Series) *Series {
	r.Series = append(r.Series, s)
	return s
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
