package main

import (
	"slices"
	"time"
)

// Sample is one timed run of a process.
type Sample struct {
	Wall time.Duration `json:"wall"` // from just before fork to just after wait
	CPU  time.Duration `json:"cpu"`  // user+sys of the child, from wait4's rusage
}

// Series is the samples of one operation of one tool.
type Series struct {
	Key     string   `json:"key"`  // stable id the report looks up, e.g. "plumb.attach"
	Tool    string   `json:"tool"` // e.g. "plumb", "CNI bridge+host-local", "ip"
	Op      string   `json:"op"`   // what was timed, e.g. "attach netns:bt-i"
	Samples []Sample `json:"samples"`
}

// Summary is the order statistics of a Series.
type Summary struct {
	N                       int
	P50, P90, P99, Min, Max time.Duration
	CPU50                   time.Duration
}

// Summarize computes the summary of s, using nearest-rank percentiles.
func (s *Series) Summarize() Summary {
	if s == nil || len(s.Samples) == 0 {
		return Summary{}
	}
	walls := make([]time.Duration, len(s.Samples))
	cpus := make([]time.Duration, len(s.Samples))
	for i, x := range s.Samples {
		walls[i], cpus[i] = x.Wall, x.CPU
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return Summary{
		N:   len(walls),
		P50: percentile(walls, 50), P90: percentile(walls, 90), P99: percentile(walls, 99),
		Min: walls[0], Max: walls[len(walls)-1],
		CPU50: percentile(cpus, 50),
	}
}

// percentile is the nearest-rank p-th percentile of sorted: the smallest
// value with at least p% of the values at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
