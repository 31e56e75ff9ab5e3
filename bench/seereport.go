package main

import (
	"fmt"
	"strings"
	"time"
)

// Targets of issue 15's bench section.
const (
	targetSeeLookP50 = 100 * time.Millisecond // inspect, explain (no --probe) p50 at seeSmallNets*seePerNet endpoints
	targetSeeGraph   = time.Second            // graph p50 at seeNets*seePerNet endpoints
)

// seeFormats are the graph formats the section times, as in their keys.
var seeFormats = []string{"text", "dot", "svg"}

// seeTargets writes the see rows of the targets table.
func (r *Report) seeTargets(b *strings.Builder) {
	small, large := seeSmallNets*seePerNet, seeNets*seePerNet
	look := func(name, key string) {
		name = fmt.Sprintf("%s at %d endpoints p50 <= %s", name, small, ms(targetSeeLookP50))
		if x, ok := r.p50(key); ok {
			fmt.Fprintf(b, "| %s | %s | %s |\n", name, ms(x), verdict(x <= targetSeeLookP50))
		} else {
			fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
		}
	}
	look("plumb inspect", fmt.Sprintf("see.inspect.%d", small))
	look("plumb explain (no --probe), same network", fmt.Sprintf("see.explain.same.%d", small))
	look("plumb explain (no --probe), from another network", fmt.Sprintf("see.explain.other.%d", small))
	for _, f := range seeFormats {
		name := fmt.Sprintf("plumb graph --format %s of %d endpoints p50 <= %s", f, large, secs(targetSeeGraph))
		s := r.Results.get("see.graph." + f)
		if s == nil || len(s.Samples) == 0 {
			fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
			continue
		}
		m := s.Summarize()
		over := ""
		if m.Max > targetSeeGraph {
			over = fmt.Sprintf("; **%d of %d runs over %s**", s.over(targetSeeGraph), m.N, secs(targetSeeGraph))
		}
		fmt.Fprintf(b, "| %s | %s (max %s%s) | %s |\n", name, ms(m.P50), ms(m.Max), over, verdict(m.P50 <= targetSeeGraph))
	}
}

// over counts the samples slower than d.
func (s *Series) over(d time.Duration) int {
	n := 0
	for _, x := range s.Samples {
		if x.Wall > d {
			n++
		}
	}
	return n
}

// seeSection writes the see section's tables.
func (r *Report) seeSection(b *strings.Builder) {
	p, t := r.Plan, r.Results.See
	if !p.runs("see") {
		return
	}
	small, large := seeSmallNets*seePerNet, seeNets*seePerNet
	fmt.Fprintf(b, "\n## See: plumb inspect and explain at %d endpoints, plumb graph at %d (issue 15)\n\n", small, large)
	if t == nil {
		fmt.Fprintf(b, "Not run (the run stopped before it).\n")
		return
	}
	fmt.Fprintf(b, "In plumb's throwaway host netns: %d networks (`see-1` … `see-%d`, subnets 10.231.0.0/24 …) of %d "+
		"target namespaces each (untimed fill), the daemon their attaches started serving them. LISTENER, the first "+
		"endpoint of `see-1`, publishes `-p %d:%d` and serves HTTP on port %d; PEER is another endpoint of `see-1`, "+
		"FAR one of `see-2`. The commands of each table take turns, the first of each round rotating, %d rounds after "+
		"%d untimed; each exited 0 in every run. Then the host grows to %d networks of %d (%d endpoints) and graph "+
		"(svg with `--renderer builtin`, no Graphviz), inspect and explain take turns the same way. Output goes to a "+
		"file, as to a pipe (no colours).\n\n",
		seeSmallNets, seeSmallNets, seePerNet, seeHostPort, repairPort, repairPort, p.SeeN, seeWarmups, seeNets, seePerNet, large)
	fmt.Fprintf(b, "At %d endpoints:\n\n", small)
	table(b, r.seeRows(small, false))
	fmt.Fprintf(b, "\nAt %d endpoints:\n\n", large)
	table(b, r.seeRows(large, true))
	fmt.Fprintln(b)
	for _, v := range t.Verdicts {
		fmt.Fprintf(b, "- %s\n", v)
	}
	if t.GraphHead != "" {
		fmt.Fprintf(b, "- `plumb graph` at %d endpoints begins `%s`; output sizes: %s.\n", large, t.GraphHead, seeSizes(t.Sizes))
	}
}

// seeRows are the table lines of the series at eps endpoints, graph's
// first when graph is set.
func (r *Report) seeRows(eps int, graph bool) []row {
	var rows []row
	if graph {
		for _, f := range seeFormats {
			rows = append(rows, r.row("see.graph."+f))
		}
	}
	for _, k := range []string{"inspect", "explain.same", "explain.other", "attach"} {
		rows = append(rows, r.row(fmt.Sprintf("see.%s.%d", k, eps)))
	}
	return rows
}

// seeSizes writes graph's output sizes: "text 60.1 KiB, dot 150.0 KiB".
func seeSizes(m map[string]int) string {
	var parts []string
	for _, f := range seeFormats {
		if n, ok := m[f]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f KiB", f, float64(n)/1024))
		}
	}
	if len(parts) == 0 {
		return "not read"
	}
	return strings.Join(parts, ", ")
}
