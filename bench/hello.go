package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// helloSource is the Go hello world of the process floors: what any Go
// program pays to start and exit (runtime start-up, a dozen package
// initialisers, one write), for plumb ps to be compared with.
const helloSource = `package main

import "fmt"

func main() { fmt.Println("hello world") }
`

// buildHello builds the hello world into dir/hello as plumb is built
// (`make build`: CGO_ENABLED=0, -trimpath), with the go command on PATH,
// offline and with no toolchain download. Its go.mod names the toolchain's
// own version, as plumb's does, so that both run with the same GODEBUG
// defaults (which follow the main module's go line). dir goes with the
// run's TmpDir. It returns the binary and a line for the report's notes.
func buildHello(ctx context.Context, dir, plumb string) (string, string, error) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return "", "", errors.New("no go command in PATH (make bench puts /usr/local/go/bin there)")
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
	if os.Getenv("GOCACHE") == "" && os.Getenv("HOME") == "" && os.Getenv("XDG_CACHE_HOME") == "" {
		env = append(env, "GOCACHE="+filepath.Join(dir, "hello-cache"))
	}
	ver := exec.CommandContext(ctx, gocmd, "env", "GOVERSION")
	ver.Env = env
	out, err := ver.Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	src := filepath.Join(dir, "hello-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	mod := "module hello\n"
	if v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "go"); ok && strings.HasPrefix(v, "1.") {
		mod += "\ngo " + v + "\n"
	}
	for name, text := range map[string]string{"main.go": helloSource, "go.mod": mod} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return "", "", err
		}
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.CommandContext(ctx, gocmd, "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build: %w: %s", err, tail(out, 300))
	}
	note := fmt.Sprintf("process floor: a Go hello world (fmt.Println) built by the bench with `CGO_ENABLED=0 %s build -trimpath` into its temp dir", gocmd)
	hv, herr := buildinfo.ReadFile(bin)
	pv, perr := buildinfo.ReadFile(plumb)
	switch {
	case herr != nil || perr != nil:
		note += "; Go versions unknown"
	case hv.GoVersion != pv.GoVersion:
		note += fmt.Sprintf("; **with %s, but plumb was built with %s**", hv.GoVersion, pv.GoVersion)
	default:
		note += ", with " + hv.GoVersion + " as plumb"
	}
	return bin, note + ". It is timed as the linker left it in the page cache, as plumb is after `make build`: " +
		"exec of a binary whose pages the linker wrote, or exec faults read in, costs more than of one written with write(2) " +
		"(cp, install: large folios), ~0.3-0.5 ms for plumb on a 2-core VM (perfnotes/README.md)", nil
}
