package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
)

// HostState is what the benchmark promises to leave as it found it, each
// part as a sorted list of lines.
type HostState map[string][]string

// counters matches iptables-save's packet counters, which traffic changes.
var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// snapshotHost records the real host's namespaces (`ip netns`), links
// (`ip -o link`), firewall (`iptables-save`, counters dropped), the Docker
// containers and networks labelled by a bench run, /etc/netns, where plumb
// writes the hosts and resolv.conf files of netns targets, and /run/plumb,
// plumb's default run dir (the bench gives it a private one).
func snapshotHost() HostState {
	s := HostState{}
	if out, err := stdout("ip", "netns", "list"); err == nil {
		for _, l := range lines(out) {
			s["ip netns"] = append(s["ip netns"], strings.Fields(l)[0]) // drop "(id: N)"
		}
	}
	if out, err := stdout("ip", "-o", "link"); err == nil {
		s["ip -o link"] = lines(out)
	}
	if out, err := stdout("iptables-save"); err == nil {
		for _, l := range lines(out) {
			if !strings.HasPrefix(l, "#") {
				s["iptables-save"] = append(s["iptables-save"], counters.ReplaceAllString(l, ""))
			}
		}
	}
	// The bench's Docker objects, of this run or of a killed one.
	for part, argv := range map[string][]string{
		"docker ps":      {"docker", "ps", "-a", "--filter", "label=" + dockerLabel, "--format", `{{.Names}} {{.Label "` + dockerLabel + `"}}`},
		"docker network": {"docker", "network", "ls", "--filter", "label=" + dockerLabel, "--format", `{{.Name}} {{.Label "` + dockerLabel + `"}}`},
	} {
		if out, err := stdout(argv...); err == nil {
			s[part] = lines(out)
		}
	}
	for _, dir := range []string{"/etc/netns", "/run/plumb"} {
		if ents, err := os.ReadDir(dir); err == nil {
			s[dir] = []string{"(exists)"}
			for _, e := range ents {
				s[dir] = append(s[dir], e.Name())
			}
		}
	}
	for k := range s {
		slices.Sort(s[k])
	}
	return s
}

// HostDiff is what changed on the host between two snapshots, as
// "PART: line" entries.
type HostDiff struct {
	Others []string // of Added, those that name nothing of the run: other processes' work meanwhile
	Added  []string // there after the run and not before: possibly the run's
	Gone   []string // there before and not after: a run that only removes
	// what it made cannot cause these, so something else ran meanwhile
}

// diff compares before with after, part by part.
func (before HostState) diff(after HostState) HostDiff {
	var d HostDiff
	for _, k := range []string{"ip netns", "ip -o link", "iptables-save", "/etc/netns", "/run/plumb", "docker ps", "docker network"} {
		b, a := set(before[k]), set(after[k])
		for _, l := range before[k] {
			if !a[l] {
				d.Gone = append(d.Gone, k+": "+l)
			}
		}
		for _, l := range after[k] {
			if !b[l] {
				d.Added = append(d.Added, k+": "+l)
			}
		}
	}
	return d
}

func set(ls []string) map[string]bool {
	m := make(map[string]bool, len(ls))
	for _, l := range ls {
		m[l] = true
	}
	return m
}

// lines splits out into its non-empty lines.
func lines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// split moves the added entries that name nothing of the run (no name,
// prefix, label, subnet or Docker bridge of it) to Others.
func (d *HostDiff) split(p *Plan, bridges []string) {
	marks := []string{p.Host, p.Prefix, dockerLabel + "=" + p.Label, "pb" + p.Label + "-", " " + p.Label}
	for _, x := range p.Peers {
		marks = append(marks, x.Prefix, x.Host)
	}
	marks = append(marks, p.DockerSubnets...)
	marks = append(marks, bridges...)
	var ours []string
	for _, l := range d.Added {
		mine := false
		for _, m := range marks {
			if m != "" && strings.Contains(l, m) {
				mine = true
				break
			}
		}
		if mine {
			ours = append(ours, l)
		} else {
			d.Others = append(d.Others, l)
		}
	}
	d.Added = ours
}
