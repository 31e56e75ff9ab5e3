package inspect

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

func TestTextNotAttached(t *testing.T) {
	r := &Report{Target: Target{Spec: "netns:x", Kind: "netns", ContainerName: "x"}}
	r.Namespace = Section[Namespace]{Items: Namespace{Path: "/var/run/netns/x", Inode: 7}, Command: "lsns -t net"}
	r.Routes = Section[[]nsview.Route]{Command: "nsenter --net=/var/run/netns/x ip route",
		Items: []nsview.Route{{Table: 254, Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1"), Dev: "eth0"}}}
	r.emptyNotNull()
	var b bytes.Buffer
	if err := Text(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"NAMESPACE /var/run/netns/x net:[7]", "  $ nsenter --net=/var/run/netns/x ip route\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`\n  default\s+10\.0\.0\.1\s+eth0\s`).MatchString(out) {
		t.Errorf("no default route row:\n%s", out)
	}
	if strings.Count(out, "not attached by plumb") != 3 || strings.Contains(out, "\x1b[") {
		t.Errorf("plumb sections or colour wrong:\n%s", out)
	}
	j, _ := json.Marshal(r)
	if strings.Contains(string(j), "null") {
		t.Errorf("JSON has a null list: %s", j)
	}
}

// TestTextIPv6: a dual-stack endpoint shows both addresses, the names
// both families answer, its IPv6 routes, and what serves a [::1] port.
func TestTextIPv6(t *testing.T) {
	ep := &network.Endpoint{ID: "e1", Network: "ds", IP: netip.MustParsePrefix("10.30.0.2/24"), IP6: netip.MustParsePrefix("fd00:30::2/64"),
		MAC: "02:42:0a:1e:00:02", IfName: "eth0", HostVeth: "veth1",
		Ports: []network.PublishedPort{{Proto: "tcp", HostIP: netip.IPv6Loopback(), HostPort: 8080, Port: 80}}}
	six := &network.Endpoint{ID: "e2", Network: "six", IP6: netip.MustParsePrefix("fd00:31::2/64"), IfName: "eth1", HostVeth: "veth2"}
	r := &Report{Target: Target{Spec: "netns:x", Kind: "netns"}, Attached: true}
	r.Routes.Items = []nsview.Route{{Table: 254, Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fd00:30::1"), Dev: "eth0"}}
	r.Endpoints.Items = []*network.Endpoint{ep, six}
	r.DNS.Items = []DNSNames{{Network: "ds", IP: ep.IP.Addr(), IP6: ep.IP6.Addr(), Names: []string{"x"}, Source: "daemon"},
		{Network: "six", IP6: six.IP6.Addr(), Names: []string{"x"}, Source: "daemon"}}
	r.Firewall.Items = relayed("ds", ep)
	r.emptyNotNull()
	var b bytes.Buffer
	if err := Text(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, re := range []string{`\n  default\s+fd00:30::1\s+eth0\s`, `\n  ds\s+10\.30\.0\.2/24, fd00:30::2/64\s`, `\n  six\s+fd00:31::2/64\s`,
		`\n  ds\s+10\.30\.0\.2, fd00:30::2\s+x\s`, `\n  six\s+fd00:31::2\s+x\s`,
		`\[::1\]:8080->80/tcp: no rule; relayed by plumb's daemon to \[fd00:30::2\]:80`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no match for %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "invalid") {
		t.Errorf("an invalid address is shown:\n%s", out)
	}
}
