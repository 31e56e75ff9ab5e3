package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// importTimeout bounds an image import: the layer is unpacked and stored
// before dockerd answers.
const importTimeout = 5 * time.Minute

// ImageLabels returns the labels of image ref, and ErrNotFound when dockerd
// does not have it. Equivalent to: `docker image inspect -f
// '{{json .Config.Labels}}' REF`.
func (c *Client) ImageLabels(ctx context.Context, ref string) (map[string]string, error) {
	what := fmt.Sprintf("inspecting image %q", ref)
	if ref == "" {
		return nil, fmt.Errorf("inspecting image: empty name")
	}
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodGet,
		path: "/images/" + url.PathEscape(ref) + "/json"})
	if err != nil {
		return nil, err
	}
	switch status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("image %q %w", ref, ErrNotFound)
	default:
		return nil, answered(what, status, ans)
	}
	var r struct {
		Config *struct {
			Labels map[string]string `json:"Labels"`
		} `json:"Config"`
	}
	if err := json.Unmarshal(ans, &r); err != nil {
		return nil, fmt.Errorf("%s: decoding answer: %w", what, err)
	}
	labels := map[string]string{}
	if r.Config != nil {
		for k, v := range r.Config.Labels {
			labels[k] = v
		}
	}
	return labels, nil
}

// ImportImage makes image repo:tag from the root file system in the tar
// stream layer, with Dockerfile-style changes ("CMD [...]", "LABEL k=v",
// "USER 65534"). Equivalent to: `docker import --change C... - REPO:TAG`,
// the Engine API's POST /images/create?fromSrc=-.
//
// dockerd answers 200 and then reports failure inside its progress stream;
// ImportImage reads the stream and returns that error.
func (c *Client) ImportImage(ctx context.Context, layer io.Reader, repo, tag string, changes []string) error {
	what := fmt.Sprintf("importing image %s:%s", repo, tag)
	q := url.Values{"fromSrc": {"-"}, "repo": {repo}, "tag": {tag}}
	for _, ch := range changes {
		q.Add("changes", ch)
	}
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodPost, path: "/images/create",
		query: q, body: layer, contentType: "application/x-tar"})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return answered(what, status, ans)
	}
	if err := progressError(ans); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// progressError returns the first {"error": "..."} of a JSON progress
// stream, nil when there is none.
func progressError(stream []byte) error {
	dec := json.NewDecoder(bytes.NewReader(stream))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decoding the daemon's progress: %w", err)
		}
		msg := m.Error
		if msg == "" && m.ErrorDetail != nil {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			return errors.New("docker daemon: " + strings.Join(strings.Fields(msg), " "))
		}
	}
}

// ImageRefs returns the repo:tag references of every image that carries
// label (any value). Equivalent to: `docker images --filter label=LABEL
// --format '{{.Repository}}:{{.Tag}}'`.
func (c *Client) ImageRefs(ctx context.Context, label string) ([]string, error) {
	what := fmt.Sprintf("listing images labelled %q", label)
	filters, err := json.Marshal(map[string][]string{"label": {label}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodGet, path: "/images/json",
		query: url.Values{"filters": {string(filters)}}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, answered(what, status, ans)
	}
	var list []struct {
		RepoTags []string `json:"RepoTags"`
	}
	if err := json.Unmarshal(ans, &list); err != nil {
		return nil, fmt.Errorf("%s: decoding answer: %w", what, err)
	}
	var out []string
	for _, img := range list {
		for _, t := range img.RepoTags {
			if t != "<none>:<none>" {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// RemoveImage removes image ref, without force: dockerd refuses while a
// container uses it (an error). An image that is gone is success.
// Equivalent to: `docker rmi REF`.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	what := fmt.Sprintf("removing image %q", ref)
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	status, ans, err := c.do(ctx, apiCall{what: what, method: http.MethodDelete, path: "/images/" + url.PathEscape(ref)})
	if err != nil {
		return err
	}
	switch status {
	case http.StatusOK, http.StatusNotFound:
		return nil
	}
	return answered(what, status, ans)
}
