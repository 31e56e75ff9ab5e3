package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/plumbnet/plumb/network"
)

// runJSON runs plumb args in h and decodes its standard output, JSON,
// into v. It fails when the output does not decode, or else when plumb
// failed: `network ls` prints what it could read before it fails on a
// damaged network, so v is filled even then.
func (h *host) runJSON(v any, args ...string) error {
	var stdout, stderr bytes.Buffer
	c := h.command(nil, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	runErr := c.Run()
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("plumb %s (%v): decoding its output: %v\n%s%s", strings.Join(args, " "), runErr, err, stdout.Bytes(), stderr.Bytes())
	}
	if runErr != nil {
		return fmt.Errorf("plumb %s: %v\n%s", strings.Join(args, " "), runErr, stderr.Bytes())
	}
	return nil
}

// psEntry is one row of `plumb ps --format json` (cmd/plumb/ps.go psRow):
// the endpoint's record and whether its namespace is gone.
type psEntry struct {
	network.Endpoint
	State  string `json:"state"`  // up, down, broken, stale
	Reason string `json:"reason"` // what is down or missing
	Stale  bool   `json:"stale"`
}

// endpointOf returns the first row of `plumb ps --format json` (of
// network netName, unless it is "") whose target is targetSpec, and fails
// the test when there is none.
func (h *host) endpointOf(targetSpec, netName string) psEntry {
	h.t.Helper()
	args := []string{"ps", "--format", "json"}
	if netName != "" {
		args = append(args, "--net", netName)
	}
	var rows []psEntry
	if err := h.runJSON(&rows, args...); err != nil {
		h.t.Fatal(err)
	}
	for _, r := range rows {
		if r.Target == targetSpec {
			return r
		}
	}
	h.t.Fatalf("no endpoint of %s on %q in plumb ps: %+v", targetSpec, netName, rows)
	return psEntry{}
}

// epIP returns the address of the endpoint of target on netName from
// `plumb ps --format json`.
func (h *host) epIP(targetSpec, netName string) string {
	h.t.Helper()
	return h.endpointOf(targetSpec, netName).IP.Addr().String()
}

// networkNames returns the names `plumb network ls --format json` lists.
func (h *host) networkNames() ([]string, error) {
	var nets []network.Network
	err := h.runJSON(&nets, "network", "ls", "--format", "json")
	var names []string
	for _, n := range nets {
		names = append(names, n.Name)
	}
	return names, err
}
