package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// refPlugins is where Debian's containernetworking-plugins puts the
// reference plugins (tuning, portmap, bridge, host-local).
const refPlugins = "/usr/lib/cni"

// cniHost is a host namespace driven the way a CNI runtime drives plugins:
// libcni, run from a thread inside h's namespace so that every plugin it
// executes (plumb, then the reference ones of a chain) runs there too. The
// plugins find plumb in binDir, the others in refPlugins; libcni's result
// cache is a temp dir; plumb's state and run dirs are h's, shared with the
// CLI.
type cniHost struct {
	*host
	binDir string
	lib    *libcni.CNIConfig
}

func newCNIHost(t *testing.T) *cniHost {
	t.Helper()
	h := newHost(t)
	bin := t.TempDir()
	if err := os.Symlink(plumbBin, filepath.Join(bin, "plumb")); err != nil {
		t.Fatal(err)
	}
	// Every plugin process libcni starts inherits this environment: the
	// daemon it starts uses h's run dir (so h's cleanup stops it) and
	// forwards nothing.
	t.Setenv("PLUMB_RUN_DIR", h.runDir)
	t.Setenv("PLUMB_DNS_UPSTREAM", "none")
	t.Setenv("PLUMB_STATE_DIR", "")
	return &cniHost{host: h, binDir: bin, lib: libcni.NewCNIConfigWithCacheDir([]string{bin, refPlugins}, t.TempDir(), nil)}
}

// conflist builds a network config list: plumb first, with its fields
// (stateDir always h's), then the plugins of rest, each a JSON object.
func (c *cniHost) conflist(t *testing.T, ver, name string, fields map[string]any, rest ...string) *libcni.NetworkConfigList {
	t.Helper()
	p := map[string]any{"type": "plumb", "stateDir": c.state}
	for k, v := range fields {
		p[k] = v
	}
	b, _ := json.Marshal(p)
	plugins := append([]string{string(b)}, rest...)
	raw := fmt.Sprintf(`{"cniVersion":%q,"name":%q,"plugins":[%s]}`, ver, name, strings.Join(plugins, ","))
	l, err := libcni.NetworkConfFromBytes([]byte(raw))
	if err != nil {
		t.Fatalf("conflist %s: %v", raw, err)
	}
	return l
}

// rt is the runtime config of container id on ifname in netns ns.
func rt(id, ns, ifname string, caps map[string]any) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: id, NetNS: "/var/run/netns/" + ns, IfName: ifname, CapabilityArgs: caps}
}

// inHost runs f on a thread inside c's host namespace.
func (c *cniHost) inHost(f func() error) error { return inNS(c.ns, f) }

func (c *cniHost) add(l *libcni.NetworkConfigList, r *libcni.RuntimeConf) (*current.Result, error) {
	var res types.Result
	err := c.inHost(func() (err error) {
		res, err = c.lib.AddNetworkList(context.Background(), l, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(res)
}

func (c *cniHost) mustAdd(t *testing.T, l *libcni.NetworkConfigList, r *libcni.RuntimeConf) *current.Result {
	t.Helper()
	res, err := c.add(l, r)
	if err != nil {
		t.Fatalf("ADD %s %s: %v", r.ContainerID, r.IfName, err)
	}
	return res
}

func (c *cniHost) del(l *libcni.NetworkConfigList, r *libcni.RuntimeConf) error {
	return c.inHost(func() error { return c.lib.DelNetworkList(context.Background(), l, r) })
}

func (c *cniHost) check(l *libcni.NetworkConfigList, r *libcni.RuntimeConf) error {
	return c.inHost(func() error { return c.lib.CheckNetworkList(context.Background(), l, r) })
}

func (c *cniHost) gc(l *libcni.NetworkConfigList, valid ...types.GCAttachment) error {
	return c.inHost(func() error {
		return c.lib.GCNetworkList(context.Background(), l, &libcni.GCArgs{ValidAttachments: valid})
	})
}

func (c *cniHost) status(l *libcni.NetworkConfigList) error {
	return c.inHost(func() error { return c.lib.GetStatusNetworkList(context.Background(), l) })
}

// cniCode is the code of a CNI error, or -1.
func cniCode(err error) int {
	var e *types.Error
	if errors.As(err, &e) {
		return int(e.Code)
	}
	return -1
}

// addrOf returns the address of the container interface in a plumb result.
func addrOf(t *testing.T, r *current.Result, ifname string) string {
	t.Helper()
	for _, ip := range r.IPs {
		if ip.Interface != nil && r.Interfaces[*ip.Interface].Name == ifname && r.Interfaces[*ip.Interface].Sandbox != "" {
			return ip.Address.IP.String()
		}
	}
	t.Fatalf("result has no address on %s: %v", ifname, r)
	return ""
}

// reserved reports whether ip has a reservation file in network netName.
func (c *cniHost) reserved(netName, ip string) bool {
	_, err := os.Stat(filepath.Join(c.state, "networks", netName, "ips", ip))
	return err == nil
}

// endpointRecords counts the endpoint records of netName.
func (c *cniHost) endpointRecords(t *testing.T, netName string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(c.state, "networks", netName, "endpoints"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// linkExists reports whether h's namespace has a link named name.
func (c *cniHost) linkExists(name string) bool {
	_, err := c.sh("ip", "link", "show", name)
	return err == nil
}

// cnitoolPath finds the cnitool binary: $PATH, then go install's GOBIN
// defaults. Missing, the test skips (or fails in CI).
func cnitoolPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("cnitool"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{"/usr/local/bin/cnitool", filepath.Join(home, "go", "bin", "cnitool")} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("PLUMB_REQUIRE_PRIVILEGED") != "" {
		t.Fatal("cnitool not found: lab/provision.sh installs it (go install github.com/containernetworking/cni/cnitool)")
	}
	t.Skip("cnitool not found: go install github.com/containernetworking/cni/cnitool@v1.3.1")
	return ""
}

// listenHello listens on TCP addr and answers every connection "hello\n".
func listenHello(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	return ln, nil
}
