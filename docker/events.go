package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Event is one container event of the Engine's event stream.
type Event struct {
	Action string // "start", "die", ...
	ID     string // the container's id
	Name   string // the container's name, without "/"
}

// ContainerEvents streams the Engine's events of containers with one of
// actions ("start", "die", ...) as they happen, calling f for each, until
// ctx ends (nil) or the stream breaks (an error: the daemon restarted, or
// went away). Events before the call are not replayed. Equivalent to:
// `docker events --filter type=container --filter event=start`.
func (c *Client) ContainerEvents(ctx context.Context, actions []string, f func(Event)) error {
	filters, _ := json.Marshal(map[string][]string{"type": {"container"}, "event": actions})
	u := "http://docker/events?" + url.Values{"filters": {string(filters)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.slow.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("following docker events: docker daemon answered %d", resp.StatusCode)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Action string `json:"Action"`
			Actor  struct {
				ID         string            `json:"ID"`
				Attributes map[string]string `json:"Attributes"`
			} `json:"Actor"`
		}
		if err := dec.Decode(&m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("following docker events: %w", err)
		}
		f(Event{Action: m.Action, ID: m.Actor.ID, Name: m.Actor.Attributes["name"]})
	}
}
