package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// envTool, when set, makes this process one of the data-path tools the
// supervisor starts inside a namespace: "httpserve" or "httpload".
const envTool = "BENCH_TOOL"

// httpPort is where the request-rate server listens, in every server netns.
const httpPort = 8080

// httpMaxRequests caps one request-rate run: every request is a new TCP
// connection, and each leaves a conntrack entry for two minutes (the real
// host's table, for Docker's published port), so a run never makes more.
const httpMaxRequests = 10000

// toolMain runs the tool named by $BENCH_TOOL and returns the exit code.
func toolMain(name string, args []string) int {
	var err error
	switch name {
	case "httpserve":
		err = httpServe(fmt.Sprintf(":%d", httpPort))
	case "httpload":
		err = httpLoadMain(args)
	default:
		err = fmt.Errorf("unknown %s %q", envTool, name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench "+name+":", err)
		return 1
	}
	return 0
}

// httpServe answers every request with "hello world\n", like the seed's
// sinatra app, until it is killed.
func httpServe(addr string) error {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	body := []byte("hello world\n")
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
}

// HTTPLoad is what one request-rate run measured.
type HTTPLoad struct {
	Requests int           // answered 200 with the whole body
	Errors   int           // failed requests
	Wall     time.Duration // from the first request to the last answer
	P50, P99 time.Duration // per request, connect to last byte
	FirstErr string
}

// httpLoadMain is `httpload URL CONC SECS`: CONC workers each send
// requests one after the other, every request on a new connection (no
// keep-alive: a short request as curl makes it), for SECS seconds or
// httpMaxRequests requests in all. It prints an HTTPLoad as JSON.
func httpLoadMain(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: httpload URL CONC SECS")
	}
	conc, err1 := strconv.Atoi(args[1])
	secs, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || conc < 1 || secs < 1 {
		return fmt.Errorf("httpload: bad CONC %q or SECS %q", args[1], args[2])
	}
	res := httpLoad(args[0], conc, time.Duration(secs)*time.Second, httpMaxRequests)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// httpLoad runs the load and summarizes it.
func httpLoad(url string, conc int, d time.Duration, maxReq int) HTTPLoad {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		Timeout:   5 * time.Second,
	}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		res      HTTPLoad
		wg       sync.WaitGroup
		budget   = maxReq
		start    = time.Now()
		deadline = start.Add(d)
	)
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if budget == 0 || time.Now().After(deadline) {
			return false
		}
		budget--
		return true
	}
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			errs, first := 0, ""
			for take() {
				t0 := time.Now()
				err := get(client, url)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			res.Errors += errs
			if res.FirstErr == "" {
				res.FirstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start)
	res.Requests = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99 = percentile(lat, 50), percentile(lat, 99)
	}
	return res
}

// get fetches url on a new connection and checks the answer.
func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(b) != "hello world\n" {
		return fmt.Errorf("GET %s: %s, %q", url, resp.Status, b)
	}
	return nil
}
