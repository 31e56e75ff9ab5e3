package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestContainerEvents: the filter asked for is the one sent, each event
// of the stream reaches f in order, and the end of ctx ends the call
// with nil while a broken stream is an error.
func TestContainerEvents(t *testing.T) {
	gotFilter := make(chan string, 1)
	c := startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotFilter <- r.URL.Query().Get("filters")
		for i, name := range []string{"web", "db"} {
			fmt.Fprintf(w, `{"Type":"container","Action":"start","Actor":{"ID":"id%d","Attributes":{"name":%q}}}`+"\n", i, name)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	var got []Event
	done := make(chan error, 1)
	go func() {
		done <- c.ContainerEvents(ctx, []string{"start"}, func(e Event) {
			got = append(got, e)
			if len(got) == 2 {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ContainerEvents ended by its context: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ContainerEvents did not return after its context ended")
	}
	var f map[string][]string
	if err := json.Unmarshal([]byte(<-gotFilter), &f); err != nil || f["type"][0] != "container" || f["event"][0] != "start" {
		t.Fatalf("filters sent: %v %v", f, err)
	}
	if len(got) != 2 || got[0] != (Event{Action: "start", ID: "id0", Name: "web"}) || got[1].Name != "db" {
		t.Fatalf("events: %+v", got)
	}
}

func TestContainerEventsStreamEnds(t *testing.T) {
	c := startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"Action":"start","Actor":{"ID":"x"}}`)
	}))
	if err := c.ContainerEvents(context.Background(), []string{"start"}, func(Event) {}); err == nil {
		t.Fatal("a stream that ended is no error")
	}
}
