package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/atomicfile"
)

// useNetnsEtc points NetnsEtcDir at dir for the test.
func useNetnsEtc(t *testing.T, dir string) {
	old := NetnsEtcDir
	NetnsEtcDir = dir
	t.Cleanup(func() { NetnsEtcDir = old })
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	must(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Where the file system has no unnamed files, a new file is written under
// NetnsEtcDir/.plumb-tmp, never in NAME/ where `ip netns exec` would bind
// it; a staging file a killed writer left there is swept once it is old,
// and the staging directory goes with the last file.
func TestNetnsFileStagedFallback(t *testing.T) {
	etc := t.TempDir()
	useHostEtc(t, etc)
	writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1\tlocalhost\n")
	useNetnsEtc(t, filepath.Join(t.TempDir(), "netns"))
	noUnnamedFiles(t)
	stage := filepath.Join(NetnsEtcDir, stagingDir)
	dead := filepath.Join(stage, "hosts.0123456789ab")
	writeFile(t, dead, "partial")
	old := time.Now().Add(-time.Hour)
	must(t, os.Chtimes(dead, old, old))

	var inStage []string
	testHookLink = func() { inStage = names(t, stage) }
	t.Cleanup(func() { testHookLink = nil })
	f := &netnsFile{dir: NetnsEtcDir, name: "blue", base: "hosts"}
	must(t, f.Update(appendLine("10.0.0.2\tweb\n")))
	if got := readFile(t, f.Path()); got != "127.0.0.1\tlocalhost\n10.0.0.2\tweb\n" {
		t.Errorf("hosts %q", got)
	}
	if len(inStage) != 1 {
		t.Errorf("while linking, the staging directory held %v; want the one new file", inStage)
	}
	if got := names(t, filepath.Join(NetnsEtcDir, "blue")); !slices.Equal(got, []string{"hosts"}) {
		t.Errorf("NAME/ holds %v", got)
	}
	if got := names(t, stage); got != nil {
		t.Errorf("staging directory holds %v after the write", got)
	}
	must(t, f.Remove())
	if _, err := os.Stat(NetnsEtcDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", NetnsEtcDir, err)
	}
}

// noUnnamedFiles makes the netns files take the path of a file system
// without unnamed files (O_TMPFILE) for the test.
func noUnnamedFiles(t *testing.T) {
	old := createUnnamed
	createUnnamed = func(int, string, os.FileMode) (*atomicfile.Unnamed, error) {
		return nil, fmt.Errorf("test: %w", errors.ErrUnsupported)
	}
	t.Cleanup(func() { createUnnamed = old })
}
