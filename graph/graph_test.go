package graph

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/portmap"
)

// demo is the lab demo's topology, as records: sinatra-net with three
// web endpoints and nginx published on 80, and an internal network.
func demo() *Topology {
	nets := []*network.Network{
		{Name: "sinatra-net", Bridge: "br-5e1c0a", Subnet: netip.MustParsePrefix("172.30.0.0/24"), Gateway: netip.MustParseAddr("172.30.0.1")},
		{Name: "back", Bridge: "br-back", Subnet: netip.MustParsePrefix("10.89.0.0/24"), Gateway: netip.MustParseAddr("10.89.0.1"), Internal: true},
	}
	ep := func(net, id, name, ip string, cookie uint64, ports ...portmap.Mapping) *network.Endpoint {
		return &network.Endpoint{ID: id, Network: net, Target: name, ContainerName: name, IfName: "eth0",
			IP: netip.MustParsePrefix(ip), MAC: "02:42:ac:1e:00:0" + ip[len(ip)-4:len(ip)-3], NetNSCookie: cookie, Ports: ports}
	}
	eps := []*network.Endpoint{
		ep("sinatra-net", "e4", "nginx", "172.30.0.5/24", 4, portmap.Mapping{Proto: "tcp", HostPort: 80, Port: 80}),
		ep("sinatra-net", "e2", "sinatra-web-2", "172.30.0.3/24", 2),
		ep("sinatra-net", "e1", "sinatra-web-1", "172.30.0.2/24", 1),
		ep("sinatra-net", "e3", "sinatra-web-3", "172.30.0.4/24", 3),
		ep("back", "e5", "db", "10.89.0.2/24", 5),
		ep("nowhere", "e6", "orphan", "10.0.0.2/24", 6),
	}
	eps[4].Aliases = []string{"postgres"}
	served := &control.Listening{Namespaces: map[uint64]bool{1: true, 2: true, 3: true, 4: true}}
	return Build(nets, eps, served, func(e *network.Endpoint) bool { return e.ID == "e5" })
}

func TestBuildSortsAndMarks(t *testing.T) {
	top := demo()
	if len(top.Networks) != 2 || top.Networks[0].Name != "back" || top.Networks[1].Name != "sinatra-net" {
		t.Fatalf("networks not sorted by name: %+v", top.Networks)
	}
	var names []string
	for _, ep := range top.Networks[1].Endpoints {
		names = append(names, ep.Name)
	}
	if got := strings.Join(names, ","); got != "sinatra-web-1,sinatra-web-2,sinatra-web-3,nginx" {
		t.Errorf("endpoints not by address: %s", got)
	}
	if top.Endpoints() != 5 {
		t.Errorf("Endpoints() = %d, want 5 (the orphan's network is not shown)", top.Endpoints())
	}
	db := top.Networks[0].Endpoints[0]
	if !db.Stale || db.DNS {
		t.Errorf("db: stale %v dns %v, want stale and no listener", db.Stale, db.DNS)
	}
	if !top.Networks[1].DNS.IsValid() || top.Networks[1].DNS.String() != "172.30.0.1:53" {
		t.Errorf("gateway DNS = %v", top.Networks[1].DNS)
	}
}

func TestBuildWithoutDaemon(t *testing.T) {
	nets := []*network.Network{{Name: "n", Bridge: "br-n", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Gateway: netip.MustParseAddr("10.1.0.1")}}
	top := Build(nets, nil, nil, nil)
	var b bytes.Buffer
	if err := Text(&b, top); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "dns off (daemon not running)") || top.Networks[0].DNS.IsValid() {
		t.Errorf("no daemon, yet DNS shown:\n%s", b.String())
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, demo()); err != nil {
		t.Fatal(err)
	}
	want := `host (2 networks, 5 endpoints)
├── back  bridge br-back  10.89.0.0/24  gw 10.89.0.1  dns 10.89.0.1:53  internal
│   └── db  eth0  10.89.0.2/24  02:42:ac:1e:00:02  aliases postgres  (stale: its namespace is gone)
└── sinatra-net  bridge br-5e1c0a  172.30.0.0/24  gw 172.30.0.1  dns 172.30.0.1:53
    ├── sinatra-web-1  eth0  172.30.0.2/24  02:42:ac:1e:00:02  dns 127.0.0.11:53
    ├── sinatra-web-2  eth0  172.30.0.3/24  02:42:ac:1e:00:03  dns 127.0.0.11:53
    ├── sinatra-web-3  eth0  172.30.0.4/24  02:42:ac:1e:00:04  dns 127.0.0.11:53
    └── nginx          eth0  172.30.0.5/24  02:42:ac:1e:00:05  dns 127.0.0.11:53  port 0.0.0.0:80->80/tcp
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestDot(t *testing.T) {
	var b bytes.Buffer
	if err := Dot(&b, demo()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"digraph plumb {",
		`subgraph "cluster_sinatra-net" {`,
		`"br/sinatra-net" [label="br-5e1c0a\ngw 172.30.0.1\ndns 172.30.0.1:53"`,
		`"ep/sinatra-net/e4" [label="nginx\neth0 172.30.0.5/24\n02:42:ac:1e:00:05\ndns 127.0.0.11:53"];`,
		`"br/sinatra-net" -> "ep/sinatra-net/e1" [dir=none, label="eth0"];`,
		`host -> "ep/sinatra-net/e4" [label="0.0.0.0:80->80/tcp"`,
		`host -> "br/back" [dir=none];`,
		`style="rounded,dashed"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dot lacks %s\n%s", want, out)
		}
	}
	var again bytes.Buffer
	Dot(&again, demo())
	if again.String() != out {
		t.Error("dot differs between two renderings of the same state")
	}
}

func TestQuote(t *testing.T) {
	if got := quote("a\"b\\c\nd"); got != `"a\"b\\c\nd"` {
		t.Errorf("quote = %s", got)
	}
}

func TestDrawSVGAndPNG(t *testing.T) {
	var svg bytes.Buffer
	if err := Draw(&svg, demo(), "svg"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "sinatra-web-3", "0.0.0.0:80-&gt;80/tcp", "br-5e1c0a"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	var again bytes.Buffer
	Draw(&again, demo(), "svg")
	if again.String() != svg.String() {
		t.Error("svg differs between two drawings of the same state")
	}
	var pb bytes.Buffer
	if err := Draw(&pb, demo(), "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pb)
	if err != nil || img.Bounds().Dx() < 200 || img.Bounds().Dy() < 200 {
		t.Fatalf("png: %v, bounds %v", err, img.Bounds())
	}
	if dir := os.Getenv("GRAPH_OUT"); dir != "" {
		os.WriteFile(filepath.Join(dir, "demo.svg"), svg.Bytes(), 0o644)
		var p2 bytes.Buffer
		Draw(&p2, demo(), "png")
		os.WriteFile(filepath.Join(dir, "demo.png"), p2.Bytes(), 0o644)
	}
}

func TestRenderChoosesRenderer(t *testing.T) {
	noDot := func(string) (string, error) { return "", errors.New("not found") }
	var b bytes.Buffer
	if err := Render(&b, demo(), Options{Format: "svg", LookPath: noDot}); err != nil || !strings.Contains(b.String(), "<svg") {
		t.Errorf("auto without Graphviz: %v", err)
	}
	err := Render(&b, demo(), Options{Format: "svg", Renderer: "dot", LookPath: noDot})
	if !errors.Is(err, ErrNoGraphviz) || !strings.Contains(err.Error(), "apt-get install graphviz") {
		t.Errorf("--renderer dot without Graphviz: %v", err)
	}
	for _, o := range []Options{{Format: "jpeg"}, {Format: "svg", Renderer: "cairo"}} {
		err := Render(&b, demo(), o)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: want one line, got %v", o, err)
		}
	}
}

func TestEmpty(t *testing.T) {
	top := Build(nil, nil, nil, nil)
	for _, f := range []string{"text", "dot", "svg", "png"} {
		var b bytes.Buffer
		if err := Render(&b, top, Options{Format: f, Renderer: "builtin"}); err != nil || b.Len() == 0 {
			t.Errorf("%s of nothing: %v, %d bytes", f, err, b.Len())
		}
	}
}

// big is n endpoints over 4 networks, each endpoint with a port.
func big(n int) *Topology {
	var nets []*network.Network
	for i := range 4 {
		nets = append(nets, &network.Network{Name: fmt.Sprintf("net-%d", i), Bridge: fmt.Sprintf("br-%d", i),
			Subnet: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i)), Gateway: netip.MustParseAddr(fmt.Sprintf("10.%d.0.1", i))})
	}
	var eps []*network.Endpoint
	for i := range n {
		eps = append(eps, &network.Endpoint{ID: fmt.Sprintf("id%05d", i), Network: fmt.Sprintf("net-%d", i%4),
			ContainerName: fmt.Sprintf("c-%d", i), IfName: "eth0",
			IP:    netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.%d/16", i%4, 1+i/4/250, 2+i/4%250)),
			Ports: []portmap.Mapping{{Proto: "tcp", HostPort: uint16(10000 + i), Port: 80}}})
	}
	return Build(nets, eps, &control.Listening{}, nil)
}

func BenchmarkRender1000(b *testing.B) {
	top := big(1000)
	for _, f := range []string{"text", "dot", "svg"} {
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				var out bytes.Buffer
				if err := Render(&out, top, Options{Format: f, Renderer: "builtin"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
