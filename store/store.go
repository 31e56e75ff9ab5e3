package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/plumbnet/plumb/internal/name"
)

// Prefix is the root of every key plumb writes (see the package doc).
const Prefix = "/plumb/v1/"

// DefaultPort is the etcd client port a store URL without one gets.
const DefaultPort = "2379"

// The kinds of error the store returns, wrapped in a message naming the
// record: test them with errors.Is.
var (
	ErrExists   = errors.New("already exists")
	ErrNotFound = errors.New("not found")
	ErrInUse    = errors.New("in use")
	ErrNoBlock  = errors.New("no free block")
	ErrInvalid  = errors.New("invalid")
)

// Store is a connection to the etcd cluster holding plumb's state. It is
// safe for concurrent use.
type Store struct {
	cli       *clientv3.Client
	endpoints []string
}

// ParseURL parses a store URL, "etcd://HOST[:PORT][,HOST[:PORT]...]",
// into etcd client endpoints ("http://HOST:PORT"; the port defaults to
// 2379, an IPv6 host is written [ADDR]). Its one error names the bad
// value.
func ParseURL(s string) ([]string, error) {
	rest, ok := strings.CutPrefix(s, "etcd://")
	if !ok {
		return nil, fmt.Errorf("store %q: %w: want etcd://HOST:PORT[,HOST:PORT...]", s, ErrInvalid)
	}
	var eps []string
	for _, hp := range strings.Split(rest, ",") {
		ep, err := endpoint(hp)
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", s, err)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// endpoint turns one "HOST[:PORT]" of a store URL into "http://HOST:PORT".
func endpoint(hp string) (string, error) {
	if hp == "" || strings.ContainsAny(hp, "/?#@ ") {
		return "", fmt.Errorf("%w member %q: want HOST[:PORT]", ErrInvalid, hp)
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		if !strings.Contains(err.Error(), "missing port") {
			return "", fmt.Errorf("%w member %q: want HOST[:PORT]", ErrInvalid, hp)
		}
		host, port = strings.Trim(hp, "[]"), DefaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w port %q in %q: want 1-65535", ErrInvalid, port, hp)
	}
	if host == "" {
		return "", fmt.Errorf("%w member %q: no host", ErrInvalid, hp)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// Open connects to the etcd cluster at endpoints (as ParseURL returns
// them) and checks, within ctx, that it answers a linearizable read (a
// quorum is up). A caller that must start while etcd is down retries Open.
func Open(ctx context.Context, endpoints []string) (*Store, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("store: %w: no etcd endpoint", ErrInvalid)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	s := &Store{cli: cli, endpoints: endpoints}
	if err := s.Ping(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connection. Memberships still open lose their
// keepalive (their records expire with the TTL): close them first.
func (s *Store) Close() error { return s.cli.Close() }

// EtcdEndpoints returns the etcd endpoints the store was opened with.
func (s *Store) EtcdEndpoints() []string { return append([]string(nil), s.endpoints...) }

// Ping checks that the cluster answers a linearizable read within ctx
// (`etcdctl endpoint health`, for the cluster as a whole).
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.cli.Get(ctx, Prefix, clientv3.WithCountOnly())
	return s.wrap(err)
}

// wrap names the cluster in an error coming from etcd.
func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("etcd %s: %w", strings.Join(s.endpoints, ","), err)
}

// validName reports whether s can be one part of a key: 1 to 253 bytes of
// [A-Za-z0-9_.-], not "." or "..".
func validName(s string) bool {
	return len(s) >= 1 && len(s) <= 253 && name.Token(s) && s != "." && s != ".."
}

// checkName returns an ErrInvalid error naming what and s unless s is a
// valid key part.
func checkName(what, s string) error {
	if !validName(s) {
		return fmt.Errorf("%s name %q: %w: want 1-253 of [A-Za-z0-9_.-]", what, s, ErrInvalid)
	}
	return nil
}

func networkKey(n string) string      { return Prefix + "networks/" + n }
func vniKey(v uint32) string          { return Prefix + "vni/" + strconv.FormatUint(uint64(v), 10) }
func hostKey(h string) string         { return Prefix + "hosts/" + h }
func blocksPrefix(n string) string    { return Prefix + "blocks/" + n + "/" }
func endpointsPrefix(n string) string { return Prefix + "endpoints/" + n + "/" }
func endpointKey(n, id string) string { return endpointsPrefix(n) + id }
func exists(key string) clientv3.Cmp  { return clientv3.Compare(clientv3.CreateRevision(key), ">", 0) }
func absent(key string) clientv3.Cmp  { return clientv3.Compare(clientv3.CreateRevision(key), "=", 0) }
func unchanged(key string, rev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(key), "=", rev)
}
