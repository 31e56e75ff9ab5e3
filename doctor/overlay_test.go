package doctor

import (
	"os"
	"strconv"
	"testing"

	"github.com/plumbnet/plumb/daemon"
)

// The cluster agent is found alive by its pid file, and missing without
// one or with a pid that runs nothing.
func TestCheckAgent(t *testing.T) {
	dir := t.TempDir()
	if f := checkAgent(dir); f == nil || f.Check != "cluster-agent" {
		t.Fatalf("no pid file: %+v, want a cluster-agent finding", f)
	}
	if err := os.WriteFile(daemon.AgentPIDPath(dir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := checkAgent(dir); f != nil {
		t.Fatalf("a live pid: %+v, want none", f)
	}
	if err := os.WriteFile(daemon.AgentPIDPath(dir), []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := checkAgent(dir); f == nil {
		t.Fatal("a dead pid was taken for a live agent")
	}
}
