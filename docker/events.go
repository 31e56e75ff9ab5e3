package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Event is one container event of the Engine's event stream.
type Event struct {
	Action string    // "start", "die", ...
	ID     string    // the container's id
	Name   string    // the container's name, without "/"
	Time   time.Time // when dockerd emitted it (its timeNano), zero if it gave none
}

// Follow says which container events ContainerEvents streams.
type Follow struct {
	// Actions are the actions wanted ("start", "die", ...); none: all.
	Actions []string
	// Since, when not zero, has the Engine first replay the events it
	// still keeps from that time on (dockerd keeps its last 256 in memory;
	// a restarted dockerd has none), then stream the new ones. A
	// subscription from a moment before the call misses nothing in
	// between: dockerd subscribes and reads its buffer at once.
	Since time.Time
	// Ready, when not nil, is called once dockerd has answered the
	// request, before the first event.
	Ready func()
}

// ContainerEvents streams the Engine's events of containers that o asks
// for as they happen, calling f for each in the order dockerd sent them,
// until ctx ends (nil) or the stream breaks (an error: dockerd restarted,
// or went away). Equivalent to: `docker events --filter type=container
// --filter event=start --since T`.
func (c *Client) ContainerEvents(ctx context.Context, o Follow, f func(Event)) error {
	filter := map[string][]string{"type": {"container"}}
	if len(o.Actions) > 0 {
		filter["event"] = o.Actions
	}
	filters, _ := json.Marshal(filter)
	q := url.Values{"filters": {string(filters)}}
	if !o.Since.IsZero() {
		q.Set("since", fmt.Sprintf("%d.%09d", o.Since.Unix(), o.Since.Nanosecond()))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/events?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("following docker events: %w", err)
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
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return answered("following docker events", resp.StatusCode, body)
	}
	if o.Ready != nil {
		o.Ready()
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Action   string `json:"Action"`
			TimeNano int64  `json:"timeNano"`
			Actor    struct {
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
		e := Event{Action: m.Action, ID: m.Actor.ID, Name: m.Actor.Attributes["name"]}
		if m.TimeNano != 0 {
			e.Time = time.Unix(0, m.TimeNano)
		}
		f(e)
	}
}
