package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/plumbnet/plumb/portmap"
)

// ErrNotRunning is returned by requests that do not start the daemon when
// no daemon answers on the socket.
var ErrNotRunning = errors.New("plumb daemon is not running")

// ReplyError is the daemon's answer to a request it could not carry out.
type ReplyError struct {
	Msg  string
	Code string
}

func (e *ReplyError) Error() string { return "plumb daemon: " + e.Msg }

// Is lets errors.Is(err, portmap.ErrInUse) see a port the daemon found taken.
func (e *ReplyError) Is(target error) bool { return target == portmap.ErrInUse && e.Code == CodeInUse }

// CodeInUse is Reply.Code for a host port that is taken.
const CodeInUse = "in-use"

// Client talks to the daemon of one run directory. It dials once and keeps
// the connection for its next requests; it is safe for concurrent use
// (requests are serialised). The zero value is not usable: see NewClient.
type Client struct {
	socket  string
	start   func() error
	timeout time.Duration

	mu   sync.Mutex
	conn net.Conn
	enc  *json.Encoder
	dec  *json.Decoder
}

// NewClient returns a client of the daemon whose socket is in runDir.
// start, when not nil, is how a request that may start the daemon starts
// it (Starter.Start); nil never starts one.
func NewClient(runDir string, start func() error) *Client {
	return &Client{socket: SocketPath(runDir), start: start, timeout: RequestTimeout}
}

// SocketPath is the control socket of the daemon of runDir.
func SocketPath(runDir string) string { return filepath.Join(runDir, "plumb.sock") }

// PIDPath is the daemon's pid file in runDir: for people and service
// managers. A program asks Running, which cannot be stale.
func PIDPath(runDir string) string { return filepath.Join(runDir, "plumb.pid") }

// LockPath is the file whose flock the daemon of runDir holds for its
// whole life: one daemon per run directory.
func LockPath(runDir string) string { return filepath.Join(runDir, "daemon.lock") }

// Close drops the connection, if any.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *Client) closeLocked() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.enc, c.dec = nil, nil, nil
	return err
}

// Do sends req and returns the daemon's reply. With start set, a daemon
// that is not running is started first; otherwise ErrNotRunning is
// returned. A reply carrying an error is returned with a *ReplyError.
func (c *Client) Do(req Request, start bool) (*Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reused := c.conn != nil
	rep, err := c.roundTrip(req, start)
	if err != nil && reused && !errors.Is(err, ErrNotRunning) {
		// The daemon we were talking to went away (restarted): once more.
		c.closeLocked()
		rep, err = c.roundTrip(req, start)
	}
	if err != nil {
		return nil, err
	}
	if rep.Error != "" {
		return rep, &ReplyError{Msg: rep.Error, Code: rep.Code}
	}
	return rep, nil
}

func (c *Client) roundTrip(req Request, start bool) (*Reply, error) {
	if err := c.dial(start); err != nil {
		return nil, err
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := c.enc.Encode(req); err != nil {
		c.closeLocked()
		return nil, fmt.Errorf("talking to the plumb daemon: %w", err)
	}
	var rep Reply
	if err := c.dec.Decode(&rep); err != nil {
		c.closeLocked()
		if isTimeout(err) {
			return nil, fmt.Errorf("the plumb daemon did not answer %s within %s", req.Op, c.timeout)
		}
		return nil, fmt.Errorf("reading the plumb daemon's answer to %s: %w", req.Op, err)
	}
	return &rep, nil
}

func (c *Client) dial(start bool) error {
	if c.conn != nil {
		return nil
	}
	conn, err := net.DialTimeout("unix", c.socket, time.Second)
	if err != nil && start && c.start != nil {
		if err := c.start(); err != nil {
			return err
		}
		conn, err = net.DialTimeout("unix", c.socket, time.Second)
	}
	if err != nil {
		return ErrNotRunning
	}
	c.conn, c.enc, c.dec = conn, json.NewEncoder(conn), json.NewDecoder(conn)
	return nil
}

// Ping checks that the daemon answers.
func (c *Client) Ping() error {
	_, err := c.Do(Request{Op: OpPing}, false)
	return err
}

// Start starts the daemon if it is not running, and returns once it
// answers.
func (c *Client) Start() error {
	_, err := c.Do(Request{Op: OpPing}, true)
	return err
}

// Up has the daemon serve endpoint id of network, starting the daemon if
// needed; it returns once the endpoint's names resolve.
func (c *Client) Up(network, id string) error {
	_, err := c.Do(Request{Op: OpUp, Network: network, Endpoint: id}, true)
	return err
}

// Down has the daemon forget endpoint id of network; its names stop
// resolving before Down returns. A daemon that is not running has nothing
// to forget: success.
func (c *Client) Down(network, id string) error {
	return notRunningOK(c.Do(Request{Op: OpDown, Network: network, Endpoint: id}, false))
}

// Reap has the daemon delete the retired pair r in the background. It
// fails with ErrNotRunning, or a *ReplyError when the daemon cannot (r is
// in another namespace): the caller then deletes the pair itself.
func (c *Client) Reap(r Reap) error {
	_, err := c.Do(Request{Op: OpReap, Reap: &r}, false)
	return err
}

// Sync has a running daemon serve exactly what the state directory says;
// it does not start one.
func (c *Client) Sync() error { return notRunningOK(c.Do(Request{Op: OpSync}, false)) }

// Remotes has a running daemon serve the remote endpoint records of
// network as the state directory has them; it does not start one.
func (c *Client) Remotes(network string) error {
	return notRunningOK(c.Do(Request{Op: OpRemotes, Network: network}, false))
}

// Records lists the names the running daemon serves, on network or on
// every network when it is empty.
func (c *Client) Records(network string) ([]Record, error) {
	rep, err := c.Do(Request{Op: OpRecords, Network: network}, false)
	if err != nil {
		return nil, err
	}
	return rep.Records, nil
}

// Hold has the daemon (started if needed) bind the host ports of reqs for
// endpoint id of network and returns what it holds. A taken port is an
// error matching portmap.ErrInUse whose text is the daemon's, e.g.
// "publishing 0.0.0.0:80/tcp: port is already in use".
func (c *Client) Hold(network, id string, reqs []portmap.Request) ([]portmap.Mapping, error) {
	rep, err := c.Do(Request{Op: OpHold, Network: network, Endpoint: id, Ports: reqs}, true)
	var re *ReplyError
	if errors.As(err, &re) {
		return nil, &holdError{re}
	}
	if err != nil {
		return nil, err
	}
	return rep.Ports, nil
}

// holdError is a refused hold: its text is the daemon's alone.
type holdError struct{ *ReplyError }

func (e *holdError) Error() string { return e.Msg }
func (e *holdError) Unwrap() error { return e.ReplyError }

// Release has the daemon let the host ports of endpoint id of network go.
// A daemon that is not running holds nothing: success.
func (c *Client) Release(network, id string) error {
	return notRunningOK(c.Do(Request{Op: OpRelease, Network: network, Endpoint: id}, false))
}

// Listening is what the daemon serves: the namespaces with a 127.0.0.11
// listener (by cookie, or inode for records written before cookies), and
// the endpoints (Key) there whose default route is missing.
type Listening struct {
	Namespaces map[uint64]bool
	NoRoute    map[string]bool
	Held       map[string]bool // endpoints (Key) whose host ports the daemon holds
}

// Listeners asks the daemon what it serves. A daemon that is not running
// serves nothing: an empty Listening and ErrNotRunning.
func (c *Client) Listeners() (Listening, error) {
	rep, err := c.Do(Request{Op: OpListeners}, false)
	if err != nil {
		return ListeningOf(&Reply{}), err
	}
	return ListeningOf(rep), nil
}

// ListeningOf is the Listening an OpListeners reply says.
func ListeningOf(rep *Reply) Listening {
	l := Listening{Namespaces: map[uint64]bool{}, NoRoute: map[string]bool{}, Held: map[string]bool{}}
	for _, id := range rep.Namespaces {
		l.Namespaces[id] = true
	}
	for _, k := range rep.NoRoute {
		l.NoRoute[k] = true
	}
	for _, k := range rep.Held {
		l.Held[k] = true
	}
	return l
}

func notRunningOK(_ *Reply, err error) error {
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	return err
}
