package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Defect 13: "none" turns forwarding off from the flag as from the
// environment, alone; mixed with servers it is an error either way.
func TestUpstreamServers(t *testing.T) {
	one := netip.MustParseAddrPort("192.0.2.53:53")
	for _, tc := range []struct {
		name  string
		flags []string
		env   string
		want  []netip.AddrPort
		err   string
	}{
		{name: "flag none", flags: []string{"none"}},
		{name: "flag none beats the environment", flags: []string{"none"}, env: "192.0.2.53"},
		{name: "env none", env: "none"},
		{name: "flag server", flags: []string{"192.0.2.53"}, env: "none", want: []netip.AddrPort{one}},
		{name: "flag server and port", flags: []string{"192.0.2.53:5353"}, want: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:5353")}},
		{name: "env servers", env: "192.0.2.53, 192.0.2.54", want: []netip.AddrPort{one, netip.MustParseAddrPort("192.0.2.54:53")}},
		{name: "flag none with a server", flags: []string{"none", "192.0.2.53"}, err: `"none"`},
		{name: "env none with a server", env: "192.0.2.53,none", err: `"none"`},
		{name: "flag garbage", flags: []string{"nowhere"}, err: `invalid upstream "nowhere"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PLUMB_DNS_UPSTREAM", tc.env)
			got, err := upstreamServers(tc.flags)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("upstreamServers(%q) with env %q: %v %v, want an error with %s", tc.flags, tc.env, got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("upstreamServers(%q) with env %q = %v, %v; want %v", tc.flags, tc.env, got, err, tc.want)
			}
		})
	}
}
