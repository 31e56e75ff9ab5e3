package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestContainerEvents: the filter and the since asked for are the ones
// sent, Ready comes before the first event, each event of the stream
// reaches f in order with its time, and the end of ctx ends the call with
// nil.
func TestContainerEvents(t *testing.T) {
	gotQuery := make(chan url.Values, 1)
	c := startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery <- r.URL.Query()
		w.(http.Flusher).Flush()
		for i, name := range []string{"web", "db"} {
			fmt.Fprintf(w, `{"Type":"container","Action":"start","Actor":{"ID":"id%d","Attributes":{"name":%q}},"time":1700000000,"timeNano":170000000012345678%d}`+"\n", i, name, i)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	var got []Event
	ready := 0
	done := make(chan error, 1)
	since := time.Unix(1700000000, 5)
	go func() {
		done <- c.ContainerEvents(ctx, Follow{Actions: []string{"start"}, Since: since, Ready: func() { ready++ }}, func(e Event) {
			if ready != 1 {
				t.Errorf("event before Ready (ready called %d times)", ready)
			}
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
	q := <-gotQuery
	var f map[string][]string
	if err := json.Unmarshal([]byte(q.Get("filters")), &f); err != nil || f["type"][0] != "container" || f["event"][0] != "start" {
		t.Fatalf("filters sent: %v %v", f, err)
	}
	if s := q.Get("since"); s != "1700000000.000000005" {
		t.Errorf("since sent: %q", s)
	}
	want0 := Event{Action: "start", ID: "id0", Name: "web", Time: time.Unix(0, 1700000000123456780)}
	if len(got) != 2 || got[0] != want0 || got[1].Name != "db" {
		t.Fatalf("events: %+v", got)
	}
}

// TestContainerEventsStreamEnds: a stream that ends is an error, and so
// is an answer other than 200, before Ready.
func TestContainerEventsStreamEnds(t *testing.T) {
	c := startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") != "" {
			t.Errorf("since sent without Follow.Since: %q", r.URL.Query().Get("since"))
		}
		fmt.Fprintln(w, `{"Action":"start","Actor":{"ID":"x"}}`)
	}))
	if err := c.ContainerEvents(context.Background(), Follow{Actions: []string{"start"}}, func(Event) {}); err == nil {
		t.Fatal("a stream that ended is no error")
	}
	c = startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"busy"}`, http.StatusInternalServerError)
	}))
	err := c.ContainerEvents(context.Background(), Follow{Ready: func() { t.Error("Ready called on a 500") }}, func(Event) {})
	if err == nil {
		t.Fatal("a 500 is no error")
	}
}
