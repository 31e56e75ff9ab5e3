package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Forwarder resolves the queries the table cannot answer.
type Forwarder interface {
	// Forward returns the answer to r's single question. r must not be
	// modified or kept; the returned message belongs to the caller, who
	// fixes its id, question and EDNS0 for its own client. A nil error
	// comes with a non-nil message.
	Forward(ctx context.Context, r *mdns.Msg) (*mdns.Msg, error)
}

const (
	// DefaultUpstreamTimeout is UpstreamForwarder's per-server timeout when
	// Timeout is zero.
	DefaultUpstreamTimeout = 2 * time.Second
	// DefaultMaxInFlight is UpstreamForwarder's limit on queries under way
	// at once when MaxInFlight is zero (Docker's embedded DNS uses 1024).
	DefaultMaxInFlight = 1024
)

var (
	// ErrNoUpstream is returned by Forward when there is no server to ask.
	ErrNoUpstream = errors.New("no upstream dns server")
	// ErrTooManyQueries is returned by Forward when MaxInFlight queries are
	// already under way: it fails at once rather than queue.
	ErrTooManyQueries = errors.New("too many forwarded dns queries in flight")
)

// UpstreamForwarder forwards queries to Servers in order: over UDP, again
// over TCP to the same server when the UDP answer is truncated, moving on
// to the next server when one does not answer in Timeout, answers something
// that is not a reply to the question, or answers SERVFAIL, REFUSED or
// another error (NXDOMAIN is an answer). It uses the sockets of the network
// namespace it runs in: the daemon makes it in the host's, so a host
// resolver on 127.0.0.53 works. Build Servers from the host's resolv.conf
// (container.ParseResolvConf, port 53) or from --upstream.
//
// An UpstreamForwarder is safe for concurrent use and must not be copied
// after its first Forward.
type UpstreamForwarder struct {
	Servers []netip.AddrPort
	// Timeout is how long one server gets, UDP and TCP retry together;
	// zero means DefaultUpstreamTimeout. The whole Forward is also bounded
	// by its context.
	Timeout time.Duration
	// MaxInFlight bounds concurrent Forward calls; zero means
	// DefaultMaxInFlight.
	MaxInFlight int

	once sync.Once
	sem  chan struct{}
}

var _ Forwarder = (*UpstreamForwarder)(nil)

// Forward sends r, unchanged, to the servers in order (see
// UpstreamForwarder). It returns the first NOERROR or NXDOMAIN answer; if
// every server that answered gave another rcode, the last such answer; an
// error only when no server answered usefully at all, or at once with
// ErrTooManyQueries or ErrNoUpstream.
func (f *UpstreamForwarder) Forward(ctx context.Context, r *mdns.Msg) (*mdns.Msg, error) {
	if len(r.Question) != 1 {
		return nil, fmt.Errorf("forwarding dns query: %d questions, want 1", len(r.Question))
	}
	q := r.Question[0]
	if len(f.Servers) == 0 {
		return nil, fmt.Errorf("forwarding %s: %w", q.Name, ErrNoUpstream)
	}
	f.once.Do(func() {
		n := f.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		f.sem = make(chan struct{}, n)
	})
	select {
	case f.sem <- struct{}{}:
		defer func() { <-f.sem }()
	default:
		return nil, fmt.Errorf("forwarding %s: %w", q.Name, ErrTooManyQueries)
	}

	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultUpstreamTimeout
	}
	var (
		last *mdns.Msg
		errs []error
	)
	for _, s := range f.Servers {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		resp, err := exchange(ctx, r, s, timeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("asking %s: %w", s, err))
			continue
		}
		if resp.Rcode == mdns.RcodeSuccess || resp.Rcode == mdns.RcodeNameError {
			return resp, nil
		}
		last = resp
	}
	if last != nil {
		return last, nil
	}
	return nil, fmt.Errorf("forwarding %s %s: %w", q.Name, mdns.Type(q.Qtype), errors.Join(errs...))
}

// exchange asks one server, over UDP and then over TCP if the answer was
// truncated; a failed TCP retry leaves the truncated answer, TC set, for the
// client to deal with.
func exchange(ctx context.Context, r *mdns.Msg, server netip.AddrPort, timeout time.Duration) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := dialAddr(server)
	c := &mdns.Client{Net: "udp", Timeout: timeout, UDPSize: mdns.DefaultMsgSize}
	resp, _, err := c.ExchangeContext(ctx, r, addr)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	if err := checkAnswer(r, resp); err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	if !resp.Truncated {
		return resp, nil
	}
	c.Net = "tcp"
	full, _, err := c.ExchangeContext(ctx, r, addr)
	if err != nil || checkAnswer(r, full) != nil {
		return resp, nil
	}
	return full, nil
}

// dialAddr is server as net.Dial takes it: "IP:PORT" for IPv4 (an
// IPv4-mapped address unmapped), "[IP]:PORT" for IPv6, with the zone kept
// ("[fe80::1%eth0]:53"), which a link-local server needs to be reached.
func dialAddr(server netip.AddrPort) string {
	return netip.AddrPortFrom(server.Addr().Unmap(), server.Port()).String()
}

// checkAnswer rejects a message that is not a reply to r's question.
func checkAnswer(r, resp *mdns.Msg) error {
	if resp == nil || !resp.Response {
		return errors.New("not a response")
	}
	if len(resp.Question) != 1 {
		return fmt.Errorf("answer has %d questions", len(resp.Question))
	}
	q, a := r.Question[0], resp.Question[0]
	if a.Qtype != q.Qtype || a.Qclass != q.Qclass || !strings.EqualFold(a.Name, q.Name) {
		return fmt.Errorf("answer is for %s %s, not %s %s", a.Name, mdns.Type(a.Qtype), q.Name, mdns.Type(q.Qtype))
	}
	return nil
}
