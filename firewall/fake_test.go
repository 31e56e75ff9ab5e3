package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

func testPort(hostPort uint16, container string) Port {
	return Port{Proto: "tcp", HostPort: hostPort, ContainerIP: netip.MustParseAddr(container), ContainerPort: 80}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFakeLifecycle(t *testing.T) {
	f := NewFake()
	if !f.Empty() || f.String() != "" || f.Networks() != nil {
		t.Fatalf("new Fake: Empty %v, String %q, Networks %q", f.Empty(), f, f.Networks())
	}
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	b.Internal = true
	mustOK(t, f.EnsureNetwork(b))
	mustOK(t, f.EnsureNetwork(a))
	mustOK(t, f.EnsureNetwork(a)) // twice is fine
	if got := f.Networks(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Networks = %q", got)
	}
	if got, ok := f.Network("b"); !ok || got != b {
		t.Errorf("Network(b) = %+v, %v", got, ok)
	}
	p1 := []Port{testPort(8080, "10.1.0.2"), {Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 5353}}
	mustOK(t, f.AddPorts(a, "ep1", p1))
	mustOK(t, f.AddPorts(a, "ep0", []Port{testPort(81, "10.1.0.3")}))
	mustOK(t, f.AddPorts(a, "ep2", nil)) // no ports: nothing recorded
	if got := f.Ports("a", "ep1"); !slices.Equal(got, p1) {
		t.Errorf("Ports(a, ep1) = %v", got)
	}
	const want = "a br-a 10.1.0.0/24 icc masquerade\n" +
		"a/ep0 0.0.0.0:81->10.1.0.3:80/tcp\n" +
		"a/ep1 0.0.0.0:8080->10.1.0.2:80/tcp 127.0.0.1:53->10.1.0.2:5353/udp\n" +
		"b br-b 10.2.0.0/24 internal icc masquerade"
	if got := f.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
	mustOK(t, f.CheckNetwork(a))
	mustOK(t, f.CheckEndpoint(a, "ep1", p1))

	mustOK(t, f.DeletePorts("a", "ep1"))
	mustOK(t, f.DeletePorts("a", "ep1")) // gone is success
	mustOK(t, f.DeletePorts("nope", "ep1"))
	if got := f.Ports("a", "ep1"); got != nil {
		t.Errorf("Ports after DeletePorts = %v", got)
	}
	if err := f.CheckEndpoint(a, "ep1", p1); err == nil || !strings.Contains(err.Error(), "port rule missing (0.0.0.0:8080->10.1.0.2:80/tcp of ep1)") {
		t.Errorf("CheckEndpoint after DeletePorts = %v", err)
	}

	mustOK(t, f.DeleteNetwork("a")) // takes ep0's ports with it
	mustOK(t, f.DeleteNetwork("a"))
	if got := f.Ports("a", "ep0"); got != nil {
		t.Errorf("Ports of a deleted network = %v", got)
	}
	if err := f.CheckNetwork(a); err == nil || !strings.Contains(err.Error(), `network "a"`) {
		t.Errorf("CheckNetwork of a deleted network = %v", err)
	}
	mustOK(t, f.DeleteNetwork("b"))
	if !f.Empty() || f.String() != "" {
		t.Errorf("after the last DeleteNetwork: Empty %v, String %q", f.Empty(), f)
	}
}

func TestFakeEnsureReplacesConfigAndKeepsPorts(t *testing.T) {
	f := NewFake()
	a := testNet("a", "br-a", "10.1.0.0/24")
	mustOK(t, f.EnsureNetwork(a))
	ports := []Port{testPort(8080, "10.1.0.2")}
	mustOK(t, f.AddPorts(a, "ep1", ports))
	old := a
	a.ICC = false
	mustOK(t, f.EnsureNetwork(a))
	if err := f.CheckNetwork(old); err == nil || !strings.Contains(err.Error(), "rules differ") {
		t.Errorf("CheckNetwork with the old config = %v", err)
	}
	mustOK(t, f.CheckEndpoint(a, "ep1", ports))

	// Configs that make the same rules pass: the subnet is masked, and an
	// internal network has no masquerade either way.
	same := a
	same.Subnet = netip.MustParsePrefix("10.1.0.1/24")
	mustOK(t, f.CheckNetwork(same))
	c := testNet("c", "br-c", "10.3.0.0/24")
	c.Internal = true
	mustOK(t, f.EnsureNetwork(c))
	c.Masquerade = false
	mustOK(t, f.CheckNetwork(c))
	// No host address and 0.0.0.0 publish the same port.
	unspec := ports[0]
	unspec.HostIP = netip.IPv4Unspecified()
	mustOK(t, f.CheckEndpoint(a, "ep1", []Port{unspec}))
}

func TestFakeAddPortsToANetworkNotEnsured(t *testing.T) {
	// Nothing of plumb's there: the network is ensured on the way.
	f := NewFake()
	a := testNet("a", "br-a", "10.1.0.0/24")
	mustOK(t, f.AddPorts(a, "ep1", []Port{testPort(8080, "10.1.0.2")}))
	if got := f.Networks(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Networks after AddPorts on an empty Fake = %q", got)
	}
	mustOK(t, f.CheckNetwork(a))

	// Another network there: the ports are recorded, the network is not
	// ensured, and the checks say so.
	b := testNet("b", "br-b", "10.2.0.0/24")
	ports := []Port{testPort(8081, "10.2.0.2")}
	mustOK(t, f.AddPorts(b, "ep2", ports))
	if _, ok := f.Network("b"); ok {
		t.Errorf("AddPorts ensured b beside a")
	}
	if got := f.Ports("b", "ep2"); !slices.Equal(got, ports) {
		t.Errorf("Ports(b, ep2) = %v", got)
	}
	if got := f.String(); !strings.HasSuffix(got, "\nb/ep2 0.0.0.0:8081->10.2.0.2:80/tcp") {
		t.Errorf("String = %q, want b's ports without a network line", got)
	}
	for _, err := range []error{f.CheckNetwork(b), f.CheckEndpoint(b, "ep2", ports)} {
		if err == nil || !strings.Contains(err.Error(), "network not ensured") {
			t.Errorf("check of b = %v, want not ensured", err)
		}
	}
	mustOK(t, f.EnsureNetwork(b))
	mustOK(t, f.CheckEndpoint(b, "ep2", ports))

	// An invalid network cannot be ensured on the way.
	f = NewFake()
	bad := a
	bad.Bridge = ""
	if err := f.AddPorts(bad, "ep1", []Port{testPort(8080, "10.1.0.2")}); !errors.Is(err, ErrInvalidNetwork) || !f.Empty() {
		t.Errorf("AddPorts of an invalid network on an empty Fake = %v, Empty %v", err, f.Empty())
	}
}

func TestFakeBadInput(t *testing.T) {
	f := NewFake()
	a := testNet("a", "br-a", "10.1.0.0/24")
	c := netip.MustParseAddr("10.1.0.2")
	for _, p := range []Port{
		{Proto: "sctp", HostPort: 1, ContainerIP: c, ContainerPort: 1},
		{Proto: "tcp", HostPort: 0, ContainerIP: c, ContainerPort: 1},
		{Proto: "tcp", HostPort: 1, ContainerIP: c, ContainerPort: 0},
		{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 1, ContainerIP: c, ContainerPort: 1},
		{Proto: "tcp", HostPort: 1, ContainerPort: 1},
	} {
		if err := f.AddPorts(a, "ep1", []Port{p}); !errors.Is(err, ErrInvalidPort) {
			t.Errorf("AddPorts(%+v) = %v, want ErrInvalidPort", p, err)
		}
		if err := f.CheckEndpoint(a, "ep1", []Port{p}); !errors.Is(err, ErrInvalidPort) {
			t.Errorf("CheckEndpoint(%+v) = %v, want ErrInvalidPort", p, err)
		}
	}
	for _, owner := range []string{"", "a b", "a/b", strings.Repeat("x", 65)} {
		if err := f.AddPorts(a, owner, []Port{testPort(80, "10.1.0.2")}); !errors.Is(err, ErrInvalidNetwork) {
			t.Errorf("AddPorts owner %q: %v, want ErrInvalidNetwork", owner, err)
		}
		if err := f.DeletePorts("a", owner); !errors.Is(err, ErrInvalidNetwork) {
			t.Errorf("DeletePorts owner %q: %v, want ErrInvalidNetwork", owner, err)
		}
	}
	if err := f.EnsureNetwork(Network{Name: "a b", Bridge: "br0"}); !errors.Is(err, ErrInvalidNetwork) {
		t.Errorf("EnsureNetwork of an invalid network = %v", err)
	}
	if err := f.DeleteNetwork(""); !errors.Is(err, ErrInvalidNetwork) {
		t.Errorf("DeleteNetwork without a name = %v", err)
	}
	if err := f.CheckNetwork(Network{Name: "bad name"}); !errors.Is(err, ErrInvalidNetwork) {
		t.Errorf("CheckNetwork of an invalid network = %v", err)
	}
	if !f.Empty() {
		t.Errorf("bad input changed the Fake:\n%s", f)
	}
}

func TestFakeFailNext(t *testing.T) {
	f := NewFake()
	a := testNet("a", "br-a", "10.1.0.0/24")
	boom, again := errors.New("boom"), errors.New("again")
	f.FailNext("EnsureNetwork", boom)
	f.FailNext("EnsureNetwork", again)
	if err := f.EnsureNetwork(a); err != boom {
		t.Errorf("first EnsureNetwork = %v, want boom", err)
	}
	if err := f.EnsureNetwork(a); err != again {
		t.Errorf("second EnsureNetwork = %v, want again", err)
	}
	if !f.Empty() {
		t.Fatalf("a failed EnsureNetwork changed the Fake:\n%s", f)
	}
	mustOK(t, f.EnsureNetwork(a))

	// Only the named method fails, and only once.
	ports := []Port{testPort(8080, "10.1.0.2")}
	f.FailNext("AddPorts", boom)
	mustOK(t, f.CheckNetwork(a))
	if err := f.AddPorts(a, "ep1", ports); err != boom || f.Ports("a", "ep1") != nil {
		t.Errorf("AddPorts = %v, ports %v; want boom and none", err, f.Ports("a", "ep1"))
	}
	mustOK(t, f.AddPorts(a, "ep1", ports))
	for _, m := range []string{"DeletePorts", "DeleteNetwork", "CheckNetwork", "CheckEndpoint"} {
		f.FailNext(m, boom)
	}
	errs := []error{f.DeletePorts("a", "ep1"), f.DeleteNetwork("a"), f.CheckNetwork(a), f.CheckEndpoint(a, "ep1", ports)}
	for i, err := range errs {
		if err != boom {
			t.Errorf("call %d = %v, want boom", i, err)
		}
	}
	mustOK(t, f.CheckEndpoint(a, "ep1", ports))

	defer func() {
		if recover() == nil {
			t.Errorf("FailNext of an unknown method did not panic")
		}
	}()
	f.FailNext("AddPort", boom)
}

func TestFakeCalls(t *testing.T) {
	f := NewFake()
	a := testNet("a", "br-a", "10.1.0.0/24")
	f.FailNext("DeleteNetwork", errors.New("boom"))
	f.EnsureNetwork(a)
	f.AddPorts(a, "ep1", []Port{testPort(8080, "10.1.0.2")})
	f.CheckEndpoint(a, "ep1", nil)
	f.DeletePorts("a", "ep1")
	f.DeleteNetwork("a")
	want := []string{"EnsureNetwork a", "AddPorts a ep1 0.0.0.0:8080->80/tcp", "CheckEndpoint a ep1", "DeletePorts a ep1", "DeleteNetwork a"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls = %q, want %q", got, want)
	}
	if f.Backend() != "fake" {
		t.Errorf("Backend = %q", f.Backend())
	}
}

func TestFakeConcurrent(t *testing.T) {
	f := NewFake()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			n := testNet(fmt.Sprintf("n%d", i), fmt.Sprintf("br-%d", i), fmt.Sprintf("10.%d.0.0/24", i))
			ports := []Port{testPort(uint16(8000+i), fmt.Sprintf("10.%d.0.2", i))}
			for _, err := range []error{f.EnsureNetwork(n), f.AddPorts(n, "ep", ports), f.CheckEndpoint(n, "ep", ports)} {
				if err != nil {
					t.Error(err)
				}
			}
			_ = f.String()
			if i%2 == 0 {
				if err := f.DeleteNetwork(n.Name); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := len(f.Networks()); got != 8 {
		t.Errorf("%d networks left, want 8:\n%s", got, f)
	}
}
