package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// recorder answers every request with status and body, and keeps what it
// was asked.
type recorder struct {
	status int
	body   string
	method string
	path   string
	query  map[string][]string
	ctype  string
	sent   []byte
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.method, r.path, r.query, r.ctype = req.Method, req.URL.Path, req.URL.Query(), req.Header.Get("Content-Type")
	r.sent, _ = io.ReadAll(req.Body)
	w.WriteHeader(r.status)
	io.WriteString(w, r.body)
}

func TestCreateContainerSendsTheSpec(t *testing.T) {
	rec := &recorder{status: 201, body: `{"Id":"` + fakeID + `","Warnings":[]}`}
	c := startFakeEngine(t, rec)
	id, err := c.CreateContainer(context.Background(), ContainerSpec{
		Name: "web", Image: "plumb/sandbox:1", Hostname: "web", NetworkMode: "none",
		User: "65534:65534", Labels: map[string]string{"k": "v"}, Hardened: true,
	})
	if err != nil || id != fakeID {
		t.Fatalf("CreateContainer = %q, %v", id, err)
	}
	if rec.method != "POST" || rec.path != "/containers/create" || rec.query["name"][0] != "web" || rec.ctype != "application/json" {
		t.Fatalf("request %s %s %v %q", rec.method, rec.path, rec.query, rec.ctype)
	}
	var got createBody
	if err := json.Unmarshal(rec.sent, &got); err != nil {
		t.Fatal(err)
	}
	if got.Image != "plumb/sandbox:1" || got.Hostname != "web" || got.User != "65534:65534" || got.Labels["k"] != "v" ||
		got.HostConfig.NetworkMode != "none" || !got.HostConfig.ReadonlyRootfs ||
		len(got.HostConfig.CapDrop) != 1 || got.HostConfig.CapDrop[0] != "ALL" || len(got.HostConfig.SecurityOpt) != 1 {
		t.Errorf("body %s", rec.sent)
	}
}

func TestCreateContainerErrors(t *testing.T) {
	tests := []struct {
		status int
		body   string
		is     error
		want   string
	}{
		{409, `{"message":"Conflict. The container name \"/web\" is already in use"}`, ErrExists, `container "web" already exists`},
		{404, `{"message":"No such image: plumb/sandbox:1"}`, ErrNotFound, `image "plumb/sandbox:1" not found`},
		{500, `{"message":"boom"}`, nil, "docker daemon answered 500: boom"},
		{201, `{"Id":"../x"}`, nil, "no valid id"},
	}
	for _, tt := range tests {
		c := startFakeEngine(t, &recorder{status: tt.status, body: tt.body})
		_, err := c.CreateContainer(context.Background(), ContainerSpec{Name: "web", Image: "plumb/sandbox:1"})
		if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("status %d: got %v, want %q", tt.status, err, tt.want)
		}
	}
	c := startFakeEngine(t, &recorder{status: 201})
	if _, err := c.CreateContainer(context.Background(), ContainerSpec{Name: "web"}); err == nil {
		t.Error("create without an image: no error")
	}
}

func TestStartStopRemoveStatuses(t *testing.T) {
	ctx := context.Background()
	type op struct {
		name   string
		call   func(*Client) error
		method string
		path   string
	}
	ops := []op{
		{"start", func(c *Client) error { return c.StartContainer(ctx, "web") }, "POST", "/containers/web/start"},
		{"stop", func(c *Client) error { return c.StopContainer(ctx, "web", 3*time.Second) }, "POST", "/containers/web/stop"},
		{"remove", func(c *Client) error { return c.RemoveContainer(ctx, "web") }, "DELETE", "/containers/web"},
	}
	for _, o := range ops {
		for _, status := range []int{204, 304, 404, 500} {
			rec := &recorder{status: status, body: `{"message":"nope"}`}
			err := o.call(startFakeEngine(t, rec))
			if rec.method != o.method || rec.path != o.path {
				t.Errorf("%s: request %s %s", o.name, rec.method, rec.path)
			}
			var ok bool
			switch {
			case status == 204:
				ok = err == nil
			case status == 304:
				ok = err == nil || o.name == "remove"
			case status == 404 && o.name == "start":
				ok = errors.Is(err, ErrNotFound)
			case status == 404:
				ok = err == nil // already gone is success
			default:
				ok = err != nil && strings.Contains(err.Error(), `"web"`) && strings.Contains(err.Error(), "nope")
			}
			if !ok {
				t.Errorf("%s on %d: %v", o.name, status, err)
			}
		}
	}
	rec := &recorder{status: 204}
	if err := startFakeEngine(t, rec).StopContainer(ctx, "web", 3*time.Second); err != nil || rec.query["t"][0] != "3" {
		t.Errorf("stop t=%v: %v", rec.query["t"], err)
	}
	rec = &recorder{status: 204}
	if err := startFakeEngine(t, rec).RemoveContainer(ctx, "web"); err != nil || rec.query["force"][0] != "1" || rec.query["v"][0] != "1" {
		t.Errorf("remove query %v: %v", rec.query, err)
	}
}

func TestListContainers(t *testing.T) {
	rec := &recorder{status: 200, body: `[{"Id":"` + fakeID + `","Names":["/nginx"],"State":"running","Labels":{"l":"/var/lib/plumb"}},
		{"Id":"bogus","Names":["/x"]}]`}
	list, err := startFakeEngine(t, rec).ListContainers(context.Background(), "l")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "nginx" || !list[0].Running || list[0].Labels["l"] != "/var/lib/plumb" {
		t.Errorf("list %+v", list)
	}
	if rec.query["all"][0] != "1" || rec.query["filters"][0] != `{"label":["l"]}` {
		t.Errorf("query %v", rec.query)
	}
}

func TestImageLabels(t *testing.T) {
	rec := &recorder{status: 200, body: `{"Id":"sha256:00","Config":{"Labels":{"a":"b"}}}`}
	l, err := startFakeEngine(t, rec).ImageLabels(context.Background(), "plumb/sandbox:1")
	if err != nil || l["a"] != "b" || rec.path != "/images/plumb/sandbox:1/json" {
		t.Errorf("labels %v, %v, path %s", l, err, rec.path)
	}
	_, err = startFakeEngine(t, &recorder{status: 404, body: `{"message":"no such image"}`}).ImageLabels(context.Background(), "x:1")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"x:1"`) {
		t.Errorf("missing image: %v", err)
	}
}

func TestImportImage(t *testing.T) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "plumb", Mode: 0o755, Size: 2})
	tw.Write([]byte("hi"))
	tw.Close()

	rec := &recorder{status: 200, body: `{"status":"sha256:abc"}` + "\n"}
	c := startFakeEngine(t, rec)
	err := c.ImportImage(context.Background(), bytes.NewReader(layer.Bytes()), "plumb/sandbox", "1", []string{`CMD ["/plumb","hold"]`, "USER 65534"})
	if err != nil {
		t.Fatal(err)
	}
	q := rec.query
	if rec.method != "POST" || rec.path != "/images/create" || q["fromSrc"][0] != "-" || q["repo"][0] != "plumb/sandbox" ||
		q["tag"][0] != "1" || len(q["changes"]) != 2 || rec.ctype != "application/x-tar" || !bytes.Equal(rec.sent, layer.Bytes()) {
		t.Errorf("request %s %s %v %q (%d bytes)", rec.method, rec.path, q, rec.ctype, len(rec.sent))
	}

	// dockerd reports a failed import inside a 200 answer.
	rec = &recorder{status: 200, body: `{"status":"Importing"}` + "\n" + `{"errorDetail":{"message":"bad tar"},"error":"bad tar"}` + "\n"}
	err = startFakeEngine(t, rec).ImportImage(context.Background(), strings.NewReader("x"), "r", "t", nil)
	if err == nil || !strings.Contains(err.Error(), "bad tar") || !strings.Contains(err.Error(), "r:t") {
		t.Errorf("error in the stream: %v", err)
	}
	rec = &recorder{status: 500, body: `{"message":"disk full"}`}
	if err := startFakeEngine(t, rec).ImportImage(context.Background(), strings.NewReader("x"), "r", "t", nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("500: %v", err)
	}
}

func TestLifecycleDockerUnavailable(t *testing.T) {
	c := unreachableClient(t)
	ctx := context.Background()
	errs := []error{
		c.StartContainer(ctx, "x"),
		c.RemoveContainer(ctx, "x"),
		c.ImportImage(ctx, strings.NewReader(""), "r", "t", nil),
	}
	_, err := c.CreateContainer(ctx, ContainerSpec{Name: "x", Image: "i"})
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("call %d: %v, want ErrUnavailable", i, err)
		}
	}
}

func TestImageRefsAndRemoveImage(t *testing.T) {
	rec := &recorder{status: 200, body: `[{"RepoTags":["plumb/sandbox:a","plumb/sandbox:b"]},{"RepoTags":["<none>:<none>"]},{"RepoTags":null}]`}
	refs, err := startFakeEngine(t, rec).ImageRefs(context.Background(), "l")
	if err != nil || strings.Join(refs, ",") != "plumb/sandbox:a,plumb/sandbox:b" || rec.query["filters"][0] != `{"label":["l"]}` {
		t.Errorf("ImageRefs = %v, %v (query %v)", refs, err, rec.query)
	}
	for status, ok := range map[int]bool{200: true, 404: true, 409: false, 500: false} {
		rec := &recorder{status: status, body: `{"message":"image is being used by running container"}`}
		err := startFakeEngine(t, rec).RemoveImage(context.Background(), "plumb/sandbox:a")
		if (err == nil) != ok || rec.method != "DELETE" || rec.path != "/images/plumb/sandbox:a" {
			t.Errorf("RemoveImage on %d: %v (%s %s)", status, err, rec.method, rec.path)
		}
	}
}
