package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/plumbnet/plumb/network"
)

// cniVars are every variable skel reads; invoke sets exactly the ones a
// case gives and unsets the rest.
var cniVars = []string{"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH", "CNI_NETNS_OVERRIDE"}

// invoke runs the plugin as a runtime would, through skel: the environment
// env (the CNI_* variables), the config stdin on standard input. It returns
// what the plugin printed on standard output and its exit code. skel reads
// the process's own environment and standard streams, so invoke swaps them
// for the call (tests using it must not run in parallel).
func invoke(t *testing.T, f *fake, env map[string]string, stdin string) (string, int) {
	t.Helper()
	for _, k := range cniVars {
		t.Setenv(k, "") // restored at cleanup
		if v, ok := env[k]; ok {
			os.Setenv(k, v)
		} else {
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	in, err := os.Create(dir + "/stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := io.WriteString(in, stdin); err != nil {
		t.Fatal(err)
	}
	in.Seek(0, 0)
	out, err := os.Create(dir + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	oldIn, oldOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = in, out
	p := &Plugin{Open: func(stateDir string, dns bool) Backend {
		f.stateDir, f.dns = stateDir, dns
		return f
	}}
	code := p.Main()
	os.Stdin, os.Stdout = oldIn, oldOut
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}

// env returns the environment of verb for container id on eth0.
func env(verb, id string) map[string]string {
	return map[string]string{
		"CNI_COMMAND": verb, "CNI_CONTAINERID": id, "CNI_IFNAME": "eth0",
		"CNI_NETNS": "/var/run/netns/plumb-unit-test-none", "CNI_PATH": "/opt/cni/bin",
	}
}

func conf(ver, extra string) string {
	return fmt.Sprintf(`{"cniVersion":%q,"name":"unitnet","type":"plumb","subnet":"10.99.0.0/24"%s}`, ver, extra)
}

// wantError checks that out is a CNI error of code, whose message holds sub.
func wantError(t *testing.T, out string, code int, wantCode uint, sub string) {
	t.Helper()
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stdout:\n%s", code, out)
	}
	var e types.Error
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("stdout is not a CNI error: %v\n%s", err, out)
	}
	if e.Code != wantCode || !strings.Contains(e.Msg+e.Details, sub) {
		t.Fatalf("error = code %d %q (%s), want code %d containing %q", e.Code, e.Msg, e.Details, wantCode, sub)
	}
}

// result parses an ADD's stdout as a result of cniVersion ver, checking
// that it says that version.
func result(t *testing.T, out string, code int, ver string) *current.Result {
	t.Helper()
	if code != 0 {
		t.Fatalf("exit code %d; stdout:\n%s", code, out)
	}
	var head struct {
		CNIVersion string `json:"cniVersion"`
	}
	if err := json.Unmarshal([]byte(out), &head); err != nil || head.CNIVersion != ver {
		t.Fatalf("result cniVersion = %q (%v), want %q:\n%s", head.CNIVersion, err, ver, out)
	}
	r, err := version.NewResult(ver, []byte(out))
	if err != nil {
		t.Fatalf("result does not parse as %s: %v\n%s", ver, err, out)
	}
	cur, err := current.NewResultFromResult(r)
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

func TestVersion(t *testing.T) {
	out, code := invoke(t, newFake(), map[string]string{"CNI_COMMAND": "VERSION"}, "")
	if code != 0 {
		t.Fatalf("VERSION: exit %d: %s", code, out)
	}
	info, err := (&version.PluginDecoder{}).Decode([]byte(out))
	if err != nil {
		t.Fatalf("VERSION output %q: %v", out, err)
	}
	if got := strings.Join(info.SupportedVersions(), ","); got != "0.4.0,1.0.0,1.1.0" {
		t.Fatalf("supported versions = %s", got)
	}
}

// TestLifecycleEveryVersion runs ADD, CHECK with the result as prevResult,
// DEL three times and CHECK again, in each cniVersion plumb speaks.
func TestLifecycleEveryVersion(t *testing.T) {
	for _, ver := range []string{"0.4.0", "1.0.0", "1.1.0"} {
		t.Run(ver, func(t *testing.T) {
			f := newFake()
			out, code := invoke(t, f, env("ADD", "c1"), conf(ver, `,"stateDir":"/tmp/plumb-unit-state"`))
			r := result(t, out, code, ver)
			if f.stateDir != "/tmp/plumb-unit-state" || !f.dns {
				t.Errorf("backend opened with state dir %q, dns %v", f.stateDir, f.dns)
			}
			if len(r.Interfaces) != 3 || r.Interfaces[2].Name != "eth0" || r.Interfaces[2].Sandbox != env("", "")["CNI_NETNS"] || r.Interfaces[1].Sandbox != "" {
				t.Fatalf("interfaces = %v", r.Interfaces)
			}
			if len(r.IPs) != 1 || r.IPs[0].Address.String() != "10.99.0.2/24" || r.IPs[0].Gateway.String() != "10.99.0.1" || *r.IPs[0].Interface != 2 {
				t.Fatalf("ips = %v", r.IPs)
			}
			if len(r.Routes) != 1 || r.Routes[0].Dst.String() != "0.0.0.0/0" || r.Routes[0].GW.String() != "10.99.0.1" {
				t.Fatalf("routes = %v", r.Routes)
			}
			if strings.Join(r.DNS.Nameservers, ",") != "10.99.0.1" {
				t.Fatalf("dns = %+v", r.DNS)
			}

			prev := conf(ver, `,"prevResult":`+out)
			if out, code := invoke(t, f, env("CHECK", "c1"), prev); code != 0 || out != "" {
				t.Fatalf("CHECK: exit %d: %s", code, out)
			}
			for i := 0; i < 3; i++ {
				if out, code := invoke(t, f, env("DEL", "c1"), conf(ver, "")); code != 0 || out != "" {
					t.Fatalf("DEL #%d: exit %d: %s", i+1, code, out)
				}
			}
			out, code = invoke(t, f, env("CHECK", "c1"), prev)
			wantError(t, out, code, types.ErrUnknownContainer, "unknown CNI attachment")
		})
	}
}

func TestDelWithoutNetns(t *testing.T) {
	f := newFake()
	invoke(t, f, env("ADD", "c1"), conf("1.0.0", ""))
	e := env("DEL", "c1")
	delete(e, "CNI_NETNS")
	if out, code := invoke(t, f, e, conf("1.0.0", "")); code != 0 {
		t.Fatalf("DEL without CNI_NETNS: exit %d: %s", code, out)
	}
	if len(f.eps) != 0 {
		t.Fatal("DEL without CNI_NETNS left the attachment")
	}
	// DEL reads the name and state dir only: a config whose values are
	// wrong does not stop it.
	invoke(t, f, env("ADD", "c2"), conf("1.0.0", ""))
	if out, code := invoke(t, f, env("DEL", "c2"), conf("1.0.0", `,"mtu":3,"ipam":{"type":"host-local"}`)); code != 0 || len(f.eps) != 0 {
		t.Fatalf("DEL with a bad config: exit %d: %s", code, out)
	}
}

func TestGCAndStatusNeed110(t *testing.T) {
	for _, verb := range []string{"GC", "STATUS"} {
		for _, ver := range []string{"0.4.0", "1.0.0"} {
			out, code := invoke(t, newFake(), env(verb, ""), conf(ver, ""))
			wantError(t, out, code, types.ErrIncompatibleCNIVersion, "does not allow "+verb)
		}
	}
}

func TestGC(t *testing.T) {
	f := newFake()
	for _, id := range []string{"keep", "drop1", "drop2"} {
		invoke(t, f, env("ADD", id), conf("1.1.0", ""))
	}
	valid := `,"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"},{"containerID":"other","ifname":"eth1"}]`
	if out, code := invoke(t, f, map[string]string{"CNI_COMMAND": "GC", "CNI_PATH": "/opt/cni/bin"}, conf("1.1.0", valid)); code != 0 {
		t.Fatalf("GC: exit %d: %s", code, out)
	}
	if len(f.eps) != 1 || f.eps[EndpointID("keep", "eth0")] == nil {
		t.Fatalf("after GC: %d attachments, want only the valid one", len(f.eps))
	}
	if out, code := invoke(t, f, map[string]string{"CNI_COMMAND": "GC", "CNI_PATH": "/opt/cni/bin"}, conf("1.1.0", "")); code != 0 || len(f.eps) != 0 {
		t.Fatalf("GC with no valid attachments: exit %d, %d left: %s", code, len(f.eps), out)
	}
}

func TestStatus(t *testing.T) {
	st := map[string]string{"CNI_COMMAND": "STATUS", "CNI_PATH": "/opt/cni/bin"}
	f := newFake()
	if out, code := invoke(t, f, st, conf("1.1.0", "")); code != 0 || out != "" {
		t.Fatalf("STATUS: exit %d: %s", code, out)
	}
	f.err = fmt.Errorf("network %q has no free address: %w", "unitnet", network.ErrCannotAdd)
	out, code := invoke(t, f, st, conf("1.1.0", ""))
	wantError(t, out, code, types.ErrPluginNotAvailable, "no free address")
	f.err = fmt.Errorf("%w: bridge gone", network.ErrLimitedConnectivity)
	out, code = invoke(t, f, st, conf("1.1.0", ""))
	wantError(t, out, code, types.ErrLimitedConnectivity, "bridge gone")
}

func TestUnsupportedVersion(t *testing.T) {
	for _, ver := range []string{"0.3.1", "0.2.0", "2.0.0"} {
		out, code := invoke(t, newFake(), env("ADD", "c1"), conf(ver, ""))
		wantError(t, out, code, types.ErrIncompatibleCNIVersion, "incompatible CNI versions")
	}
}

// TestErrors covers each error the plugin reports before or from the
// backend, with its code.
func TestErrors(t *testing.T) {
	without := func(k string) map[string]string { e := env("ADD", "c1"); delete(e, k); return e }
	with := func(k, v string) map[string]string { e := env("ADD", "c1"); e[k] = v; return e }
	cases := []struct {
		name  string
		env   map[string]string
		stdin string
		code  uint
		sub   string
	}{
		{"unknown verb", with("CNI_COMMAND", "PUT"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "unknown CNI_COMMAND"},
		{"no netns", without("CNI_NETNS"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "CNI_NETNS"},
		{"no ifname", without("CNI_IFNAME"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "CNI_IFNAME"},
		{"no path", without("CNI_PATH"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "CNI_PATH"},
		{"bad container id", with("CNI_CONTAINERID", "a/b"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "containerID"},
		{"bad ifname", with("CNI_IFNAME", "eth0:1"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "interface name"},
		{"not json", env("ADD", "c1"), "{", types.ErrDecodingFailure, "unmarshal"},
		{"wrong json type", env("ADD", "c1"), conf("1.0.0", `,"mtu":"big"`), types.ErrDecodingFailure, "mtu"},
		{"dns not bool", env("ADD", "c1"), conf("1.0.0", `,"dns":"yes"`), types.ErrDecodingFailure, "dns"},
		{"no name", env("ADD", "c1"), `{"cniVersion":"1.0.0","type":"plumb"}`, types.ErrInvalidNetworkConfig, "missing network name"},
		{"long name", env("ADD", "c1"), `{"cniVersion":"1.0.0","type":"plumb","name":"` + strings.Repeat("n", 65) + `"}`, types.ErrInvalidNetworkConfig, "network name"},
		{"ipam section", env("ADD", "c1"), conf("1.0.0", `,"ipam":{"type":"host-local"}`), types.ErrUnsupportedField, `"ipam": {"type":"host-local"}`},
		{"bad subnet", env("ADD", "c1"), `{"cniVersion":"1.0.0","name":"n","type":"plumb","subnet":"10.0.0.300/24"}`, types.ErrInvalidNetworkConfig, `subnet "10.0.0.300/24"`},
		{"ipv6 subnet", env("ADD", "c1"), `{"cniVersion":"1.0.0","name":"n","type":"plumb","subnet":"fd00::/64"}`, types.ErrInvalidNetworkConfig, "IPv4"},
		{"bad ipRange", env("ADD", "c1"), conf("1.0.0", `,"ipRange":"x"`), types.ErrInvalidNetworkConfig, "ipRange"},
		{"bad gateway", env("ADD", "c1"), conf("1.0.0", `,"gateway":"10.99.0"`), types.ErrInvalidNetworkConfig, "gateway"},
		{"bad mtu", env("ADD", "c1"), conf("1.0.0", `,"mtu":10`), types.ErrInvalidNetworkConfig, "mtu 10"},
		{"unknown CNI_ARGS", with("CNI_ARGS", "K8S_POD_NAME=web"), conf("1.0.0", ""), types.ErrInvalidEnvironmentVariables, "unknown args"},
		{"bad CNI_ARGS IP", with("CNI_ARGS", "IP=10.99.0.x"), conf("1.0.0", ""), types.ErrInvalidNetworkConfig, "CNI_ARGS IP"},
		{"bad runtimeConfig ips", env("ADD", "c1"), conf("1.0.0", `,"runtimeConfig":{"ips":["fd00::5%eth0"]}`), types.ErrInvalidNetworkConfig, "runtimeConfig ips"},
		{"two runtimeConfig ips", env("ADD", "c1"), conf("1.0.0", `,"runtimeConfig":{"ips":["10.99.0.5","10.99.0.6"]}`), types.ErrInvalidNetworkConfig, "one address per family"},
		{"sctp port", env("ADD", "c1"), conf("1.0.0", `,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"protocol":"sctp"}]}`), types.ErrInvalidNetworkConfig, "tcp or udp"},
		{"no host port", env("ADD", "c1"), conf("1.0.0", `,"runtimeConfig":{"portMappings":[{"containerPort":80}]}`), types.ErrInvalidNetworkConfig, "1-65535"},
		{"ipv6 host ip", env("ADD", "c1"), conf("1.0.0", `,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"hostIP":"fe80::1%eth0"}]}`), types.ErrInvalidNetworkConfig, "IPv4 or IPv6"},
		{"bad prevResult", env("ADD", "c1"), conf("1.0.0", `,"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"nonsense"}]}`), types.ErrDecodingFailure, "prevResult"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			out, code := invoke(t, f, c.env, c.stdin)
			wantError(t, out, code, c.code, c.sub)
			if len(f.calls) > 0 {
				t.Errorf("the backend was called (%v) for an invalid invocation", f.calls)
			}
		})
	}
}

// TestBackendErrorCodes checks the code each backend error maps to.
func TestBackendErrorCodes(t *testing.T) {
	cases := []struct {
		err  error
		code uint
	}{
		{fmt.Errorf("netns %q: %w", "/x", network.ErrNetNS), types.ErrInvalidNetNS},
		{fmt.Errorf("network %q: range: no free address: %w", "n", network.ErrExhausted), types.ErrTryAgainLater},
		{fmt.Errorf("10.99.0.5: address already in use: %w", network.ErrInUse), types.ErrTryAgainLater},
		{fmt.Errorf("10.98.0.5: address not available in this network: %w", network.ErrInvalid), types.ErrInvalidNetworkConfig},
		{fmt.Errorf("mac %q: %w", "x", network.ErrInvalid), types.ErrInvalidNetworkConfig},
		{fmt.Errorf("subnet %s %w network %q", "10.99.0.0/24", network.ErrOverlap, "other"), types.ErrInvalidNetworkConfig},
		{fmt.Errorf("state: %w", os.ErrPermission), types.ErrIOFailure},
		{errors.New("netlink said no"), types.ErrInternal},
	}
	for _, c := range cases {
		f := newFake()
		f.err = c.err
		out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", ""))
		wantError(t, out, code, c.code, c.err.Error())
	}
}

func TestBackendPanicIsAnError(t *testing.T) {
	f := newFake()
	f.panics = true
	out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", ""))
	wantError(t, out, code, types.ErrInternal, "internal error")
}

func TestAddArguments(t *testing.T) {
	t.Run("CNI_ARGS", func(t *testing.T) {
		f := newFake()
		e := env("ADD", "c1")
		e["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.99.0.50;MAC=02:aa:bb:cc:dd:ee"
		out, code := invoke(t, f, e, conf("1.0.0", ""))
		r := result(t, out, code, "1.0.0")
		if r.IPs[0].Address.String() != "10.99.0.50/24" || r.Interfaces[2].Mac != "02:aa:bb:cc:dd:ee" {
			t.Fatalf("CNI_ARGS IP/MAC not used: %v %v", r.IPs, r.Interfaces[2])
		}
	})
	t.Run("capabilities first", func(t *testing.T) {
		f := newFake()
		e := env("ADD", "c1")
		e["CNI_ARGS"] = "IP=10.99.0.50"
		rc := `,"capabilities":{"ips":true,"mac":true,"aliases":true,"portMappings":true},"runtimeConfig":{"ips":["10.99.0.60/24"],"mac":"02:11:22:33:44:55","aliases":{"unitnet":["web","www"],"other":["x"]},"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}`
		out, code := invoke(t, f, e, conf("1.1.0", rc))
		r := result(t, out, code, "1.1.0")
		if r.IPs[0].Address.String() != "10.99.0.60/24" || r.Interfaces[2].Mac != "02:11:22:33:44:55" {
			t.Fatalf("runtimeConfig ips/mac not used: %v %v", r.IPs, r.Interfaces[2])
		}
		if strings.Join(f.lastAttach.Aliases, ",") != "web,www" {
			t.Fatalf("aliases = %v, want this network's", f.lastAttach.Aliases)
		}
		want := []network.PortSpec{{HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"}}
		if !slices.Equal(f.lastAttach.Publish, want) {
			t.Fatalf("portMappings = %+v, want %+v", f.lastAttach.Publish, want)
		}
	})
	t.Run("portMappings", func(t *testing.T) {
		f := newFake()
		pm := `,"runtimeConfig":{"portMappings":[{"hostPort":53,"containerPort":5353,"protocol":"UDP","hostIP":"127.0.0.1"},{"hostPort":8443,"containerPort":443,"hostIP":"0.0.0.0"}]}`
		out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", pm))
		result(t, out, code, "1.0.0")
		want := []network.PortSpec{
			{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, HostPortEnd: 53, Port: 5353, PortEnd: 5353, Proto: "udp"},
			{HostIP: netip.IPv4Unspecified(), HostPort: 8443, HostPortEnd: 8443, Port: 443, PortEnd: 443, Proto: "tcp"},
		}
		if !slices.Equal(f.lastAttach.Publish, want) {
			t.Fatalf("portMappings = %+v, want %+v", f.lastAttach.Publish, want)
		}
	})
	t.Run("dns off", func(t *testing.T) {
		f := newFake()
		out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", `,"dns":false`))
		r := result(t, out, code, "1.0.0")
		if f.dns || !r.DNS.IsEmpty() {
			t.Fatalf("dns false: backend dns %v, result dns %+v", f.dns, r.DNS)
		}
	})
	t.Run("dns dictionary", func(t *testing.T) {
		f := newFake()
		out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", `,"dns":{"nameservers":["10.0.0.53"],"search":["svc.local"],"options":["ndots:2"]}`))
		r := result(t, out, code, "1.0.0")
		if !f.dns || strings.Join(r.DNS.Nameservers, ",") != "10.99.0.1,10.0.0.53" || r.DNS.Search[0] != "svc.local" || r.DNS.Options[0] != "ndots:2" {
			t.Fatalf("dns dictionary: %+v", r.DNS)
		}
	})
	t.Run("internal", func(t *testing.T) {
		f := newFake()
		out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", `,"internal":true`))
		if r := result(t, out, code, "1.0.0"); len(r.Routes) != 0 {
			t.Fatalf("internal network got routes %v", r.Routes)
		}
	})
}

// TestAddAfterAnotherPlugin: given a prevResult, ADD keeps it and appends
// its own entries, with interface indexes that point at them.
func TestAddAfterAnotherPlugin(t *testing.T) {
	prev := `{"cniVersion":"1.0.0","interfaces":[{"name":"lo0","sandbox":"/x"}],"ips":[{"interface":0,"address":"192.0.2.5/32"}],"dns":{"nameservers":["192.0.2.53"]}}`
	out, code := invoke(t, newFake(), env("ADD", "c1"), conf("1.0.0", `,"prevResult":`+prev))
	r := result(t, out, code, "1.0.0")
	if len(r.Interfaces) != 4 || r.Interfaces[0].Name != "lo0" || r.Interfaces[3].Name != "eth0" {
		t.Fatalf("interfaces = %v", r.Interfaces)
	}
	if len(r.IPs) != 2 || *r.IPs[1].Interface != 3 || r.IPs[1].Address.String() != "10.99.0.2/24" {
		t.Fatalf("ips = %v", r.IPs)
	}
	if strings.Join(r.DNS.Nameservers, ",") != "10.99.0.1,192.0.2.53" {
		t.Fatalf("dns = %+v", r.DNS)
	}
}

// TestCheckComparesPrevResult: CHECK hands the backend what prevResult says
// of the container interface, and fails when it disagrees or lacks it.
func TestCheckComparesPrevResult(t *testing.T) {
	f := newFake()
	out, code := invoke(t, f, env("ADD", "c1"), conf("1.0.0", ""))
	result(t, out, code, "1.0.0")
	other := strings.Replace(out, "10.99.0.2/24", "10.99.0.9/24", 1)
	o, c := invoke(t, f, env("CHECK", "c1"), conf("1.0.0", `,"prevResult":`+other))
	wantError(t, o, c, types.ErrInternal, "10.99.0.9/24")
	noIf := strings.Replace(out, `"name": "eth0"`, `"name": "eth9"`, 1)
	o, c = invoke(t, f, env("CHECK", "c1"), conf("1.0.0", `,"prevResult":`+noIf))
	wantError(t, o, c, types.ErrInternal, `no interface "eth0"`)
}
