package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultHost is the Engine API endpoint used when DOCKER_HOST is unset.
const DefaultHost = "unix:///var/run/docker.sock"

const (
	dockerTimeout    = 5 * time.Second
	maxInspectBody   = 8 << 20 // a container with many labels and mounts stays far below
	maxDockerMessage = 300
)

// Client talks to the Docker Engine API over its unix socket with plain
// net/http; plumb never runs the docker CLI and does not use the Docker SDK.
// One client keeps one http.Client (and its idle connection) for its life.
// It is safe for concurrent use.
type Client struct {
	host string // as given, for messages: unix:///var/run/docker.sock
	http *http.Client
	// slow carries the calls that may take longer than dockerTimeout
	// (create, start, stop, remove, import); each bounds itself with its
	// own context deadline.
	slow *http.Client
}

// NewClient returns a client for host, which must be "unix://" followed
// by an absolute socket path; "" means [DefaultHost]. Other schemes
// (tcp://, ssh://, npipe://) are rejected: plumb runs on the Docker host, as
// root, and only needs the local socket. Nothing is dialled until a request.
func NewClient(host string) (*Client, error) {
	if host == "" {
		host = DefaultHost
	}
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil, fmt.Errorf("docker host %q: only unix:// sockets are supported", host)
	}
	if !filepath.IsAbs(sock) {
		return nil, fmt.Errorf("docker host %q: socket path must be absolute", host)
	}
	dialer := &net.Dialer{Timeout: dockerTimeout}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: dockerTimeout,
	}
	slow := &http.Transport{
		DialContext:     transport.DialContext,
		MaxIdleConns:    1,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{
		host: host,
		http: &http.Client{Transport: transport, Timeout: dockerTimeout},
		slow: &http.Client{Transport: slow},
	}, nil
}

// NewClientFromEnv is [NewClient] with $DOCKER_HOST. Docker
// contexts (DOCKER_CONTEXT, ~/.docker/config.json) are not read.
func NewClientFromEnv() (*Client, error) {
	return NewClient(os.Getenv("DOCKER_HOST"))
}

var defaultClient = sync.OnceValues(NewClientFromEnv)

// Default returns the client built from $DOCKER_HOST that the whole process
// shares: the first call builds it, every later call returns the same client
// (or the same error, for a DOCKER_HOST plumb cannot use).
func Default() (*Client, error) { return defaultClient() }

// Host returns the endpoint the client talks to, e.g. unix:///var/run/docker.sock.
func (c *Client) Host() string { return c.host }

// ContainerInfo is the part of `docker inspect` that plumb needs.
type ContainerInfo struct {
	ID             string // full 64-hex id
	Name           string // without the leading "/"
	Running        bool
	Pid            int // State.Pid, 0 when not running
	Hostname       string
	HostsPath      string            // host-side file bind-mounted on the container's /etc/hosts
	ResolvConfPath string            // same for /etc/resolv.conf
	SandboxKey     string            // netns bind mount, /var/run/docker/netns/...
	Image          string            // Config.Image, as given at create
	Labels         map[string]string // Config.Labels
}

// inspectResponse mirrors the JSON of GET /containers/{id}/json.
type inspectResponse struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State *struct {
		Running bool `json:"Running"`
		Pid     int  `json:"Pid"`
	} `json:"State"`
	HostsPath      string `json:"HostsPath"`
	ResolvConfPath string `json:"ResolvConfPath"`
	Config         *struct {
		Hostname string            `json:"Hostname"`
		Image    string            `json:"Image"`
		Labels   map[string]string `json:"Labels"`
	} `json:"Config"`
	NetworkSettings *struct {
		SandboxKey string `json:"SandboxKey"`
	} `json:"NetworkSettings"`
}

// InspectContainer looks a container up by name, id or unique id prefix.
// Equivalent to: `docker inspect --type container REF`.
//
// Errors: ErrNotFound when the daemon answers 404, ErrUnavailable when
// it cannot be reached; a stopped container is returned with Running false.
func (c *Client) InspectContainer(ctx context.Context, ref string) (*ContainerInfo, error) {
	if ref == "" {
		return nil, fmt.Errorf("inspecting container: empty name")
	}
	u := "http://docker/containers/" + url.PathEscape(ref) + "/json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("inspecting container %q: %w", ref, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("inspecting container %q: %w", ref, ctx.Err())
		}
		return nil, c.unavailable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInspectBody+1))
	if err != nil {
		return nil, fmt.Errorf("inspecting container %q: reading answer from %s: %w", ref, c.host, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("container %q %w", ref, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("inspecting container %q: docker daemon answered %d: %s",
			ref, resp.StatusCode, daemonMessage(body))
	case len(body) > maxInspectBody:
		return nil, fmt.Errorf("inspecting container %q: answer larger than %d bytes", ref, maxInspectBody)
	}
	var r inspectResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("inspecting container %q: decoding answer: %w", ref, err)
	}
	if !isContainerID(r.ID) {
		return nil, fmt.Errorf("inspecting container %q: daemon returned invalid id %.80q", ref, r.ID)
	}
	info := &ContainerInfo{
		ID:             r.ID,
		Name:           strings.TrimPrefix(r.Name, "/"),
		HostsPath:      r.HostsPath,
		ResolvConfPath: r.ResolvConfPath,
	}
	if r.State != nil {
		info.Running, info.Pid = r.State.Running, r.State.Pid
	}
	if r.Config != nil {
		info.Hostname, info.Image, info.Labels = r.Config.Hostname, r.Config.Image, r.Config.Labels
	}
	if r.NetworkSettings != nil {
		info.SandboxKey = r.NetworkSettings.SandboxKey
	}
	return info, nil
}

// unavailable turns a transport error into one line wrapping
// ErrUnavailable: "cannot reach the Docker daemon at unix:///...: dial
// unix /var/run/docker.sock: connect: no such file or directory".
func (c *Client) unavailable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%w at %s: %w", ErrUnavailable, c.host, err)
}

// daemonMessage extracts {"message": "..."} from an error answer, on one
// short line.
func daemonMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxDockerMessage {
		msg = strings.ToValidUTF8(msg[:maxDockerMessage], "") + "..."
	}
	if msg == "" {
		msg = "(no message)"
	}
	return msg
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
