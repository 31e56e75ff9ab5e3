package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxAnswer bounds the answers of the lifecycle calls: they are a few
// hundred bytes of JSON, or a progress stream of a few lines.
const maxAnswer = 1 << 20

// apiCall is one Engine API request on the slow client: method, path
// (already escaped) and query, an optional body, and the statuses that mean
// success.
type apiCall struct {
	what        string // for messages: `creating container "web"`
	method      string
	path        string
	query       url.Values
	body        io.Reader // nil: no body
	contentType string    // of body; "application/json" when empty
}

// do sends call and returns the status and the (bounded) answer. A
// transport failure is ErrUnavailable; an expired ctx is ctx's error.
func (c *Client) do(ctx context.Context, call apiCall) (int, []byte, error) {
	u := "http://docker" + call.path
	if len(call.query) > 0 {
		u += "?" + call.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, call.method, u, call.body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", call.what, err)
	}
	if call.body != nil {
		ct := call.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.slow.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("%s: %w", call.what, ctx.Err())
		}
		return 0, nil, c.unavailable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: reading answer from %s: %w", call.what, c.host, err)
	}
	return resp.StatusCode, body, nil
}

// jsonBody encodes v for a request body.
func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// answered is the error for an unexpected status: "creating container
// "web": docker daemon answered 500: message".
func answered(what string, status int, body []byte) error {
	return fmt.Errorf("%s: docker daemon answered %d: %s", what, status, daemonMessage(body))
}
