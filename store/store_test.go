package store

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/plumbnet/plumb/internal/etcdtest"
)

// opTimeout bounds every store call of the tests: a hung etcd fails the
// test instead of the package timeout.
const opTimeout = 20 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// open starts a one-member etcd and opens a store on it.
func open(t *testing.T) *Store {
	t.Helper()
	return openOn(t, etcdtest.Start(t, 1))
}

func openOn(t *testing.T, urls []string) *Store {
	t.Helper()
	s, err := Open(ctxT(t), urls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitFor polls cond until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

func mustNet(t *testing.T, s *Store, name, subnet string) Network {
	t.Helper()
	n, err := s.CreateNetwork(ctxT(t), Network{Name: name, Subnet: netip.MustParsePrefix(subnet)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseURL(t *testing.T) {
	good := map[string]string{
		"etcd://h1:2379,h2:2379":        "http://h1:2379 http://h2:2379",
		"etcd://10.0.0.1":               "http://10.0.0.1:2379",
		"etcd://[fd00::1]:12379,h2":     "http://[fd00::1]:12379 http://h2:2379",
		"etcd://[fd00::1]":              "http://[fd00::1]:2379",
		"etcd://etcd.example.org:32379": "http://etcd.example.org:32379",
	}
	for in, want := range good {
		eps, err := ParseURL(in)
		if err != nil || strings.Join(eps, " ") != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", in, eps, err, want)
		}
	}
	bad := map[string]string{
		"":                      `store ""`,
		"http://h1:2379":        `store "http://h1:2379"`,
		"etcd://":               `member ""`,
		"etcd://h1:2379,":       `member ""`,
		"etcd://h1:port":        `port "port"`,
		"etcd://h1:70000":       `port "70000"`,
		"etcd://h1:2379/prefix": `member "h1:2379/prefix"`,
		"etcd://:2379":          `member ":2379"`,
	}
	for in, want := range bad {
		_, err := ParseURL(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q): error %v; want one line naming %s", in, err, want)
		}
	}
}

// Open fails within its context, naming the endpoint, when nothing answers.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := Open(ctx, []string{"http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Open on a closed port: %v; want an error naming it", err)
	}
}

func TestNextBlock(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"10.0.0.0/26", "10.0.0.64/26", true},
		{"10.0.0.192/26", "10.0.1.0/26", true},
		{"10.255.255.0/24", "11.0.0.0/24", true},
		{"255.255.255.192/26", "", false},
		{"0.0.0.0/0", "", false},
		{"fd00::/80", "fd00::1:0:0:0/80", true},
		{"fd00::ffff:ffff:ffff:0/112", "fd00:0:0:1::/112", true},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", "", false},
	}
	for _, c := range cases {
		got, ok := nextBlock(netip.MustParsePrefix(c.in))
		if ok != c.ok || (ok && got.String() != c.want) {
			t.Errorf("nextBlock(%s) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// clientPrefix counts every key under a prefix.
func clientPrefix() []clientv3.OpOption {
	return []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}
}
