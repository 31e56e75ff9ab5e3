package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// DNSResults is what the DNS benchmark measured.
type DNSResults struct {
	Skip         string // why the whole DNS benchmark was skipped
	AardvarkSkip string // why the aardvark-dns peer was skipped
	DockerSkip   string // why Docker's embedded DNS was not measured
	DockerNames  int    // containers (one per name) on the Docker network
	Names        int    // names plumb's daemon held
	Networks     int    // over this many networks
	Secs         int    // each load run's length
	Workers      int    // dnsperf -c, and the Go client's workers
	QueryNames   int    // names in the query file: the client's network's
	Client       string // the client's netns
	ClientIP     string
	Gateway      string
	PlumbPID     int
	AardvarkPID  int
	Plumb        Mem      // the daemon: idle with every name loaded, then after the load
	Aardvark     Mem      // aardvark-dns, after the load
	Perf         []DNSRun // dnsperf, one per server
	Go           []DNSRun // the Go client, one per server
	Notes        []string
}

// Mem is a process's memory in kB, from /proc/PID/status.
type Mem struct {
	RSS, HWM           int64 // before the load runs
	RSSAfter, HWMAfter int64 // after them
}

// DNSRun is one load run against one server.
type DNSRun struct {
	Key, Server string
	Wall        time.Duration
	QPS         float64
	Sent        int
	Completed   int
	Lost        int
	NoError     int // completed with NOERROR (and, for the Go client, an answer)
	Avg         time.Duration
	P50, P90    time.Duration
	P99, P999   time.Duration
	Max         time.Duration
	ServerCPU   time.Duration // user+sys of the server during the run
	ClientCPU   time.Duration // user+sys of the client (dnsperf, or this process)
}

func (d *DNSResults) note(format string, args ...any) {
	d.Notes = append(d.Notes, fmt.Sprintf(format, args...))
}

// get returns the run of key in runs, or nil.
func getRun(runs []DNSRun, key string) *DNSRun {
	for i := range runs {
		if runs[i].Key == key {
			return &runs[i]
		}
	}
	return nil
}

// summarize fills r's latency order statistics from lat, which it sorts.
func (r *DNSRun) summarize(lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	r.Avg = sum / time.Duration(len(lat))
	r.P50, r.P90 = percentile(lat, 50), percentile(lat, 90)
	r.P99 = percentile(lat, 99)
	r.P999 = lat[max(0, (999*len(lat)+999)/1000-1)]
	r.Max = lat[len(lat)-1]
}

var (
	perfSent      = regexp.MustCompile(`Queries sent:\s+(\d+)`)
	perfCompleted = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	perfLost      = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	perfQPS       = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
)

// runDNSPerf runs `dnsperf -s SERVER -d QFILE -l SECS -c 4 -v` in the netns
// ns (a name or a path, see nsFile; started from a thread inside it, as the worker itself was) and reads
// its statistics; -v prints every query's latency, from which the
// percentiles are taken.
func runDNSPerf(p *Plan, ns string, server netip.Addr, qfile string, pid int) (DNSRun, error) {
	var r DNSRun
	bin, err := exec.LookPath("dnsperf")
	if err != nil {
		return r, err
	}
	outPath := filepath.Join(p.TmpDir, "dnsperf.out")
	out, err := os.Create(outPath)
	if err != nil {
		return r, err
	}
	defer os.Remove(outPath)
	defer out.Close()
	cmd := exec.Command(bin, "-s", server.String(), "-d", qfile, "-l", strconv.Itoa(p.DNSSecs),
		"-c", strconv.Itoa(dnsWorkers), "-v")
	cmd.Stdout, cmd.Stderr = out, out
	cpu0, t0 := procCPU(pid), time.Now()
	if _, err := startIn(nsFile(ns), cmd); err != nil {
		return r, err
	}
	err = cmd.Wait()
	r.Wall, r.ServerCPU = time.Since(t0), procCPU(pid)-cpu0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.ClientCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if err != nil {
		b, _ := os.ReadFile(outPath)
		return r, fmt.Errorf("%w: %s", err, tail(b, 600))
	}

	if _, err := out.Seek(0, 0); err != nil {
		return r, err
	}
	var lat []time.Duration
	var stats strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "> ") {
			stats.WriteString(l + "\n")
			continue
		}
		// "> RCODE NAME TYPE SECONDS"
		f := strings.Fields(l)
		if len(f) != 5 {
			continue
		}
		s, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		lat = append(lat, time.Duration(s*float64(time.Second)+0.5))
		if f[1] == "NOERROR" {
			r.NoError++
		}
	}
	if err := sc.Err(); err != nil {
		return r, err
	}
	st := stats.String()
	num := func(re *regexp.Regexp) (float64, error) {
		m := re.FindStringSubmatch(st)
		if m == nil {
			return 0, fmt.Errorf("dnsperf printed no %q: %s", re.String(), tail([]byte(st), 600))
		}
		return strconv.ParseFloat(m[1], 64)
	}
	var sent, completed, lost float64
	for _, x := range []struct {
		re  *regexp.Regexp
		dst *float64
	}{{perfSent, &sent}, {perfCompleted, &completed}, {perfLost, &lost}, {perfQPS, &r.QPS}} {
		if *x.dst, err = num(x.re); err != nil {
			return r, err
		}
	}
	r.Sent, r.Completed, r.Lost = int(sent), int(completed), int(lost)
	if len(lat) != r.Completed {
		return r, fmt.Errorf("dnsperf -v printed %d latencies for %d completed queries", len(lat), r.Completed)
	}
	r.summarize(lat)
	return r, nil
}

// nsFile is the netns file of ns: a named netns, or a path as it is
// (/proc/PID/ns/net of a Docker container).
func nsFile(ns string) string {
	if strings.HasPrefix(ns, "/") {
		return ns
	}
	return netnsPath(ns)
}

// dialUDPInNetns makes n UDP sockets connected to server:53 inside the netns
// ns, on a thread locked into it that then dies; a socket stays in the netns
// it was made in, whichever thread uses it later.
func dialUDPInNetns(ns string, server netip.Addr, n int) ([]*net.UDPConn, error) {
	var conns []*net.UDPConn
	err := onThreadIn(nsFile(ns), func() error {
		for i := 0; i < n; i++ {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 53)))
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return nil, err
	}
	return conns, nil
}

// query packs an A query for name, recursion desired, as dnsperf sends it.
func query(name string) ([]byte, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	return m.Pack()
}

// verifyTimeout is how long verifyAnswers waits for a name's answer.
const verifyTimeout = 10 * time.Second

// verifyAnswers asks server, from ns, for every name once, and checks that
// the answer is NOERROR with the name's address and nothing else.
func verifyAnswers(ns string, server netip.Addr, names []dnsName) error {
	conns, err := dialUDPInNetns(ns, server, 1)
	if err != nil {
		return err
	}
	c := conns[0]
	defer c.Close()
	buf := make([]byte, 4096)
	for _, n := range names {
		q := new(mdns.Msg)
		q.SetQuestion(mdns.Fqdn(n.Name), mdns.TypeA)
		b, err := q.Pack()
		if err != nil {
			return err
		}
		// Retry for a while: the first query may wait for ARP, and
		// aardvark-dns tells its parent it is ready before it has bound
		// its socket (a query that comes first meets ECONNREFUSED).
		var resp *mdns.Msg
		for deadline := time.Now().Add(verifyTimeout); resp == nil && time.Now().Before(deadline); {
			if _, err := c.Write(b); err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			k, err := c.Read(buf)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			m := new(mdns.Msg)
			if m.Unpack(buf[:k]) == nil && m.Id == q.Id {
				resp = m
			}
		}
		if resp == nil {
			return fmt.Errorf("no answer for %s A from %s", n.Name, server)
		}
		if resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 1 {
			return fmt.Errorf("%s A from %s: %s with %d answers, want NOERROR with 1", n.Name, server, mdns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
		a, ok := resp.Answer[0].(*mdns.A)
		if !ok {
			return fmt.Errorf("%s A from %s: %v, want %s", n.Name, server, resp.Answer[0], n.IP)
		}
		if got, _ := netip.AddrFromSlice(a.A.To4()); got != n.IP {
			return fmt.Errorf("%s A from %s: %v, want %s", n.Name, server, resp.Answer[0], n.IP)
		}
	}
	return nil
}

// goClientTimeout is how long a Go client worker waits for an answer
// before it counts the query lost.
const goClientTimeout = time.Second

// runGoClient runs dnsWorkers closed-loop workers for d, each with its own
// socket and one query in flight, cycling through the names, and times every
// query from just before the write to just after the read of its answer.
func runGoClient(ns string, server netip.Addr, names []dnsName, d time.Duration, pid int) (DNSRun, error) {
	var r DNSRun
	conns, err := dialUDPInNetns(ns, server, dnsWorkers)
	if err != nil {
		return r, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var qs [][]byte
	for _, n := range names {
		q, err := query(n.Name)
		if err != nil {
			return r, err
		}
		qs = append(qs, q)
	}
	type stats struct {
		lat                      []time.Duration
		sent, noerror, lost, bad int
		err                      error
	}
	res := make([]stats, len(conns))
	var ru0, ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	cpu0, t0 := procCPU(pid), time.Now()
	deadline := t0.Add(d)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func(st *stats, c *net.UDPConn, seed int) {
			defer wg.Done()
			st.lat = make([]time.Duration, 0, 1<<18)
			mine := make([][]byte, len(qs))
			for j, q := range qs {
				mine[j] = slices.Clone(q)
			}
			buf := make([]byte, 1500)
			id := uint16(seed << 12)
			for k := seed; ; k++ {
				start := time.Now()
				if start.After(deadline) {
					return
				}
				q := mine[k%len(mine)]
				id++
				binary.BigEndian.PutUint16(q, id)
				if _, err := c.Write(q); err != nil {
					st.err = err
					return
				}
				st.sent++
				_ = c.SetReadDeadline(start.Add(goClientTimeout))
				for {
					n, err := c.Read(buf)
					if err != nil {
						var ne net.Error
						if errors.As(err, &ne) && ne.Timeout() {
							st.lost++
							break
						}
						st.err = err
						return
					}
					if n < 12 || binary.BigEndian.Uint16(buf) != id {
						continue // a late answer to a query already counted lost
					}
					st.lat = append(st.lat, time.Since(start))
					flags, ancount := binary.BigEndian.Uint16(buf[2:]), binary.BigEndian.Uint16(buf[6:])
					if flags&0x8000 != 0 && flags&0xf == 0 && ancount > 0 {
						st.noerror++
					} else {
						st.bad++
					}
					break
				}
			}
		}(&res[i], c, i)
	}
	wg.Wait()
	r.Wall, r.ServerCPU = time.Since(t0), procCPU(pid)-cpu0
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	r.ClientCPU = time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	var lat []time.Duration
	for _, st := range res {
		if st.err != nil {
			return r, st.err
		}
		lat = append(lat, st.lat...)
		r.Sent += st.sent
		r.Lost += st.lost
		r.NoError += st.noerror
	}
	r.Completed = len(lat)
	r.QPS = float64(r.Completed) / r.Wall.Seconds()
	r.summarize(lat)
	return r, nil
}
