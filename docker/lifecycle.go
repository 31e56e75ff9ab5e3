package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// lifecycleTimeout bounds create, start and remove: dockerd answers in well
// under a second, but a busy host (an image being unpacked) can take longer
// than the 5 s an inspect gets.
const lifecycleTimeout = 60 * time.Second

// ContainerSpec is the part of Docker's create request plumb uses.
type ContainerSpec struct {
	Name     string            // --name
	Image    string            // the image reference
	Hostname string            // --hostname
	Cmd      []string          // empty: the image's CMD
	User     string            // --user; empty: the image's
	Labels   map[string]string // --label
	// NetworkMode is --network: "none" for a container plumb wires.
	NetworkMode string
	// Hardened drops every capability, makes the root file system read-only
	// and sets no-new-privileges: for containers that only wait.
	Hardened bool
}

// createBody mirrors the JSON of POST /containers/create.
type createBody struct {
	Image      string            `json:"Image"`
	Hostname   string            `json:"Hostname,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	User       string            `json:"User,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
	HostConfig struct {
		NetworkMode    string   `json:"NetworkMode,omitempty"`
		CapDrop        []string `json:"CapDrop,omitempty"`
		ReadonlyRootfs bool     `json:"ReadonlyRootfs,omitempty"`
		SecurityOpt    []string `json:"SecurityOpt,omitempty"`
	} `json:"HostConfig"`
}

// CreateContainer creates (does not start) a container and returns its id.
// Equivalent to: `docker create --name NAME --hostname H --network MODE
// [--label K=V]... IMAGE [CMD...]`.
//
// Errors: ErrExists when the name is taken, ErrNotFound when the image is
// missing, ErrUnavailable when dockerd cannot be reached.
func (c *Client) CreateContainer(ctx context.Context, s ContainerSpec) (string, error) {
	what := fmt.Sprintf("creating container %q", s.Name)
	if s.Name == "" || s.Image == "" {
		return "", fmt.Errorf("%s: a name and an image are required", what)
	}
	var b createBody
	b.Image, b.Hostname, b.Cmd, b.User, b.Labels = s.Image, s.Hostname, s.Cmd, s.User, s.Labels
	b.HostConfig.NetworkMode = s.NetworkMode
	if s.Hardened {
		b.HostConfig.CapDrop = []string{"ALL"}
		b.HostConfig.ReadonlyRootfs = true
		b.HostConfig.SecurityOpt = []string{"no-new-privileges"}
	}
	body, err := jsonBody(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodPost, path: "/containers/create",
		query: url.Values{"name": {s.Name}}, body: body})
	if err != nil {
		return "", err
	}
	switch status {
	case http.StatusCreated, http.StatusOK:
	case http.StatusConflict:
		return "", fmt.Errorf("container %q %w", s.Name, ErrExists)
	case http.StatusNotFound:
		return "", fmt.Errorf("%s: image %q %w", what, s.Image, ErrNotFound)
	default:
		return "", answered(what, status, ans)
	}
	var r struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(ans, &r); err != nil || !isContainerID(r.ID) {
		return "", fmt.Errorf("%s: daemon returned no valid id: %.80q", what, ans)
	}
	return r.ID, nil
}

// StartContainer starts a created or stopped container; one already running
// is left alone. Equivalent to: `docker start REF`.
func (c *Client) StartContainer(ctx context.Context, ref string) error {
	what := fmt.Sprintf("starting container %q", ref)
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodPost,
		path: "/containers/" + url.PathEscape(ref) + "/start"})
	if err != nil {
		return err
	}
	switch status {
	case http.StatusNoContent, http.StatusNotModified, http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("container %q %w", ref, ErrNotFound)
	}
	return answered(what, status, ans)
}

// StopContainer stops a running container: its stop signal, then SIGKILL
// after grace. A container that is stopped or gone is success.
// Equivalent to: `docker stop -t GRACE REF`.
func (c *Client) StopContainer(ctx context.Context, ref string, grace time.Duration) error {
	what := fmt.Sprintf("stopping container %q", ref)
	secs := int(grace / time.Second)
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout+grace)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodPost,
		path: "/containers/" + url.PathEscape(ref) + "/stop", query: url.Values{"t": {strconv.Itoa(secs)}}})
	if err != nil {
		return err
	}
	switch status {
	case http.StatusNoContent, http.StatusNotModified, http.StatusNotFound, http.StatusOK:
		return nil
	}
	return answered(what, status, ans)
}

// RemoveContainer removes a container and its anonymous volumes, killing it
// first when it runs. A container that is already gone is success.
// Equivalent to: `docker rm -f -v REF`.
func (c *Client) RemoveContainer(ctx context.Context, ref string) error {
	what := fmt.Sprintf("removing container %q", ref)
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodDelete,
		path: "/containers/" + url.PathEscape(ref), query: url.Values{"force": {"1"}, "v": {"1"}}})
	if err != nil {
		return err
	}
	switch status {
	case http.StatusNoContent, http.StatusNotFound, http.StatusOK:
		return nil
	}
	return answered(what, status, ans)
}

// ListContainers returns the ids and names of every container, running or
// not, that carries label (any value).
// Equivalent to: `docker ps -a --filter label=LABEL --format '{{.ID}} {{.Names}}'`.
func (c *Client) ListContainers(ctx context.Context, label string) ([]ContainerInfo, error) {
	what := fmt.Sprintf("listing containers labelled %q", label)
	filters, err := json.Marshal(map[string][]string{"label": {label}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodGet, path: "/containers/json",
		query: url.Values{"all": {"1"}, "filters": {string(filters)}}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, answered(what, status, ans)
	}
	var list []struct {
		ID     string            `json:"Id"`
		Names  []string          `json:"Names"`
		Image  string            `json:"Image"`
		State  string            `json:"State"`
		Labels map[string]string `json:"Labels"`
	}
	if err := json.Unmarshal(ans, &list); err != nil {
		return nil, fmt.Errorf("%s: decoding answer: %w", what, err)
	}
	out := make([]ContainerInfo, 0, len(list))
	for _, e := range list {
		if !isContainerID(e.ID) {
			continue
		}
		info := ContainerInfo{ID: e.ID, Image: e.Image, Running: e.State == "running", Labels: e.Labels}
		if len(e.Names) > 0 {
			info.Name = trimSlash(e.Names[0])
		}
		out = append(out, info)
	}
	return out, nil
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}
