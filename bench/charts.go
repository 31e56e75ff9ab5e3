package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart is one PNG written beside the report.
type Chart struct {
	Kind  string // what the report section links it under: "attach", "detach", "fill", "dns", "data"
	File  string // base name, beside the report
	Title string
}

// chartLinks writes the markdown image links of the charts of kinds.
func (r *Report) chartLinks(b *strings.Builder, kinds ...string) {
	for _, c := range r.Charts {
		if slices.Contains(kinds, c.Kind) {
			fmt.Fprintf(b, "\n![%s](%s)\n", c.Title, c.File)
		}
	}
}

// writeCharts draws the charts the results allow into dir and returns them;
// a chart that cannot be drawn is logged and left out.
func writeCharts(r *Report, dir string) []Chart {
	var out []Chart
	try := func(c Chart, p *plot.Plot, err error) {
		if err == nil && p != nil {
			err = p.Save(9*vg.Inch, 5*vg.Inch, filepath.Join(dir, c.File))
		}
		if err != nil {
			logf("chart %s: %v", c.File, err)
			return
		}
		if p != nil {
			out = append(out, c)
		}
	}
	for _, op := range []string{"attach", "detach"} {
		c := Chart{Kind: op, File: op + "-latency.png", Title: op + " latency (p50) against endpoints on the network"}
		p, err := r.levelChart(op, c.Title)
		try(c, p, err)
	}
	c := Chart{Kind: "attach", File: "attach-fill.png", Title: "attach latency while filling the network (running median of 25)"}
	p, err := r.fillChart(c.Title)
	try(c, p, err)
	c = Chart{Kind: "dns", File: "dns-qps.png", Title: "DNS queries per second, per server"}
	p, err = r.dnsChart(c.Title)
	try(c, p, err)
	c = Chart{Kind: "data", File: "datapath.png", Title: "iperf3 throughput (Gbit/s), one TCP stream"}
	p, err = r.dataChart(c.Title)
	try(c, p, err)
	return out
}

// levelChart plots each tool's p50 of op against the level, with a tick at
// every level. (The p90 and p99 are in the tables: on a shared machine
// they are noisy enough to hide the curves.)
func (r *Report) levelChart(op, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "endpoints on the network (the timed one included)"
	p.Y.Label.Text = "milliseconds (p50)"
	p.Legend.Top, p.Legend.Left = true, true
	var ticks []plot.Tick
	for _, l := range r.Plan.Levels {
		ticks = append(ticks, plot.Tick{Value: float64(l), Label: fmt.Sprint(l)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	drawn, top := 0, 0.0
	for i, t := range levelTools {
		var xys plotter.XYs
		for _, l := range r.Plan.Levels {
			if x, ok := r.p50(latKey(t, op, l)); ok {
				xys = append(xys, plotter.XY{X: float64(l), Y: msf(x)})
				top = max(top, msf(x))
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, pts.Color, pts.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		line.Width = vg.Points(2)
		if t == "plumbctl" {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line, pts)
		p.Legend.Add(toolLabel(t), line, pts)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	p.Y.Min, p.Y.Max = 0, top*1.35 // room for the legend
	p.Add(plotter.NewGrid())
	return p, nil
}

// fillChart plots the fill attaches of plumb, CNI and netavark, each the
// running median of 25 against the endpoint count.
func (r *Report) fillChart(title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "endpoints on the network after the attach"
	p.Y.Label.Text = "milliseconds"
	p.Legend.Top, p.Legend.Left = true, true
	drawn := 0
	for _, t := range []string{"plumb", "cni", "netavark"} {
		s := r.Results.get("fill." + t)
		const win = 25
		if s == nil || len(s.Samples) < win {
			continue
		}
		var xys plotter.XYs
		for k := win; k <= len(s.Samples); k++ {
			w := make([]time.Duration, win)
			for j := range win {
				w[j] = s.Samples[k-win+j].Wall
			}
			slices.Sort(w)
			xys = append(xys, plotter.XY{X: float64(k - win/2), Y: msf(w[win/2])})
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		c := slices.Index(levelTools, t)
		line.Color, line.Width = plotutil.Color(c), vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(toolLabel(t), line)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	return p, nil
}

// dnsChart draws the qps of every DNS server, dnsperf and the Go client
// side by side, from the DNS benchmark's own results.
func (r *Report) dnsChart(title string) (*plot.Plot, error) {
	d := r.Results.DNS
	if d == nil || len(d.Perf) == 0 {
		return nil, nil
	}
	var names []string
	index := map[string]int{}
	for _, runs := range [][]DNSRun{d.Perf, d.Go} {
		for _, x := range runs {
			if _, ok := index[x.Key]; !ok && x.QPS > 0 {
				index[x.Key] = len(names)
				names = append(names, shortServer(x.Server))
			}
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "queries per second"
	top := 0.0
	p.Legend.Top = true
	w := vg.Points(22)
	for i, c := range []struct {
		label string
		runs  []DNSRun
	}{{"dnsperf", d.Perf}, {"Go client", d.Go}} {
		vals := make(plotter.Values, len(names))
		for _, x := range c.runs {
			if k, ok := index[x.Key]; ok {
				vals[k] = x.QPS
				top = max(top, x.QPS)
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(2*i-1) * w / 2
		p.Add(bars)
		p.Legend.Add(c.label, bars)
	}
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, top*1.2 // room for the legend
	p.Add(plotter.NewGrid())
	return p, nil
}

// shortServer is a DNS server's label without its parenthesis.
func shortServer(s string) string {
	if i := strings.Index(s, " ("); i > 0 {
		return s[:i]
	}
	return s
}

// dataChart draws the median iperf3 throughput of every data-path setup,
// plumb's bars in plumb's colour.
func (r *Report) dataChart(title string) (*plot.Plot, error) {
	d := r.Results.Data
	if d == nil {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "Gbit/s"
	var names []string
	top := 0.0
	for i, s := range []struct{ key, name string }{
		{"veth", "bare veth pair"}, {"plumb", "plumb network"}, {"docker", "Docker bridge"},
		{"plumb-port", "plumb -p (localhost)"}, {"docker-port", "docker run -p (localhost)"},
	} {
		med, _, _, n := d.median(s.key, kindIperf, func(x DataRun) float64 { return x.Bps / 1e9 })
		if n == 0 {
			continue
		}
		vals := make(plotter.Values, 5)
		vals[i] = med
		bars, err := plotter.NewBarChart(vals, vg.Points(50))
		if err != nil {
			return nil, err
		}
		c := 2 // the peers' colour
		if strings.HasPrefix(s.key, "plumb") {
			c = 0
		} else if s.key == "veth" {
			c = 4
		}
		bars.Color, bars.LineStyle.Width = plotutil.Color(c), 0
		p.Add(bars)
		names = append(names, s.name)
		top = max(top, med)
	}
	if len(names) == 0 {
		return nil, nil
	}
	for len(names) < 5 {
		names = append(names, "")
	}
	p.Y.Min, p.Y.Max = 0, top*1.1
	p.Add(plotter.NewGrid())
	p.NominalX(names...)
	return p, nil
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
