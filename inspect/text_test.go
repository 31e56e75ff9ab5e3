package inspect

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"

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
