package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// executable is this program's binary, which the data-path tools run as.
func executable() (string, error) { return os.Executable() }

// cleanEnv is this process's environment without the variables that choose
// what the bench binary does (worker, plan, tool).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != envInNetns && k != envPlan && k != envTool {
			env = append(env, kv)
		}
	}
	return env
}

// createLog creates a log file for a long-running process.
func createLog(path string) (*os.File, error) { return os.Create(path) }

// runIn runs argv to completion inside netns file ns ("" for this
// process's netns), with env (nil: this process's), for at most timeout, and
// returns its standard output. An error carries the tail of its stderr.
func runIn(ns string, env []string, timeout time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	var err error
	if ns != "" {
		_, err = startIn(ns, cmd)
	} else {
		err = cmd.Start()
	}
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		msg := tail(errb.Bytes(), 300)
		if msg == "" {
			msg = tail(out.Bytes(), 300)
		}
		return out.String(), fmt.Errorf("%s: %w: %s", filepath.Base(argv[0]), err, msg)
	}
	return out.String(), nil
}

// waitListening waits until the process pid has a TCP socket listening on
// port, as its netns's /proc/PID/net/tcp{,6} shows, or it exits.
func waitListening(pid, port int, timeout time.Duration) error {
	want := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(timeout)
	for {
		for _, f := range []string{"tcp", "tcp6"} {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
			if err != nil {
				return fmt.Errorf("process %d (listening on %d) is gone: %w", pid, port, err)
			}
			for _, l := range strings.Split(string(b), "\n")[1:] {
				x := strings.Fields(l)
				if len(x) > 3 && strings.HasSuffix(x[1], want) && x[3] == "0A" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on port %d in the netns of process %d after %v", port, pid, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dockerProxies are the pids of the docker-proxy processes serving any of
// the host ports.
func dockerProxies(ports ...int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("docker-proxy")) {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "-host-port" && i+1 < len(args) {
				for _, p := range ports {
					if args[i+1] == strconv.Itoa(p) {
						pids = append(pids, pid)
					}
				}
			}
		}
	}
	return pids
}

// sumCPU is the user+sys time of the processes, from /proc/PID/stat.
func sumCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		total += procCPU(pid)
	}
	return total
}

// conntrackBusy reports whether this netns's conntrack table is over a
// quarter full.
func conntrackBusy() bool {
	read := func(name string) int {
		b, _ := os.ReadFile("/proc/sys/net/netfilter/" + name)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	max := read("nf_conntrack_max")
	return max > 0 && read("nf_conntrack_count") > max/4
}

// parseIperf reads `iperf3 -c ... -J`.
func parseIperf(out string, r *DataRun) error {
	var j struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			CPU struct {
				HostTotal   float64 `json:"host_total"`
				RemoteTotal float64 `json:"remote_total"`
			} `json:"cpu_utilization_percent"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		return fmt.Errorf("reading iperf3's JSON: %w", err)
	}
	if j.Error != "" {
		return errors.New("iperf3: " + j.Error)
	}
	if j.End.SumReceived.BitsPerSecond <= 0 {
		return errors.New("iperf3 reported no throughput")
	}
	r.Bps = j.End.SumReceived.BitsPerSecond
	r.Retrans = j.End.SumSent.Retransmits
	r.HostCPU, r.RemoteCPU = j.End.CPU.HostTotal, j.End.CPU.RemoteTotal
	return nil
}

// parseJSON decodes out into v.
func parseJSON(out string, v any) error {
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("reading %q: %w", tail([]byte(out), 200), err)
	}
	return nil
}
