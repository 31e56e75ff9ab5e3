// Command plumb-cluster is plumb's cluster agent and the store half of
// plumb's cluster commands (package cluster). It is a binary of its own so
// that plumb never links the etcd client.
//
//	plumb-cluster agent --store etcd://H:2379 --host NAME --underlay ADDR [--state-dir DIR] [--run-dir DIR]
//	plumb-cluster network create NAME [--subnet CIDR (default: a free 10.2xx.0.0/16)] [--gateway IP] [--mtu N] [--internal] --store URL
//	plumb-cluster network ls --store URL
//	plumb-cluster network rm NAME [--force] --store URL
//	plumb-cluster host ls --store URL
//	plumb-cluster host rm NAME --store URL
//
// --store defaults to $PLUMB_STORE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/plumbnet/plumb/store"
)

const usage = `usage:
  plumb-cluster agent --store URL --host NAME --underlay ADDR [--state-dir DIR] [--run-dir DIR]
  plumb-cluster network create NAME [--subnet CIDR (default: a free 10.2xx.0.0/16)] [--gateway IP] [--mtu N] [--internal] --store URL
  plumb-cluster network ls --store URL
  plumb-cluster network rm NAME [--force] --store URL
  plumb-cluster host ls --store URL
  plumb-cluster host rm NAME --store URL
(--store defaults to $PLUMB_STORE: etcd://HOST[:PORT][,HOST[:PORT]...])`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plumb-cluster:", err)
		os.Exit(1)
	}
}

// run dispatches the command line args.
func run(ctx context.Context, args []string, out io.Writer) error {
	cmd := func(n int) string {
		if len(args) < n {
			return ""
		}
		return args[n-1]
	}
	switch c := cmd(1) + " " + cmd(2); {
	case cmd(1) == "agent":
		return agent(ctx, args[1:])
	case c == "network create":
		return networkCreate(ctx, args[2:], out)
	case c == "network ls":
		return networkLs(ctx, args[2:], out)
	case c == "network rm":
		return networkRm(ctx, args[2:], out)
	case c == "host ls":
		return hostLs(ctx, args[2:], out)
	case c == "host rm":
		return hostRm(ctx, args[2:], out)
	case cmd(1) == "" || cmd(1) == "help" || cmd(1) == "-h" || cmd(1) == "--help":
		return flag.ErrHelp
	}
	return fmt.Errorf("unknown command %q (try plumb-cluster help)", args)
}

// parse parses fs's flags wherever they are among args and returns the
// positional arguments, exactly want of them.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != want {
		return nil, fmt.Errorf("%s: want %d argument(s), got %q", fs.Name(), want, pos)
	}
	return pos, nil
}

// storeFlag adds --store (default $PLUMB_STORE) to fs.
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", os.Getenv("PLUMB_STORE"), "etcd://HOST[:PORT][,...]")
}

// open connects to the store url within timeout.
func open(ctx context.Context, url string, timeout time.Duration) (*store.Store, error) {
	if url == "" {
		return nil, errors.New("no store: give --store etcd://HOST:PORT or set PLUMB_STORE")
	}
	eps, err := store.ParseURL(url)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return store.Open(octx, eps)
}
