package container

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// EmbeddedDNS is the address of the DNS server Docker, and plumb, put inside
// every container on a user-defined network.
var EmbeddedDNS = netip.AddrFrom4([4]byte{127, 0, 0, 11})

const maxResolvConf = 1 << 20

// ResolvConf is what the resolver reads from resolv.conf(5). Only these three
// directives are kept; comments and unknown lines are dropped on a round trip.
type ResolvConf struct {
	Nameservers []netip.Addr // in order, including loopback ones
	Search      []string     // the last search or domain line wins, as in glibc
	Options     []string     // every options line, accumulated: "ndots:0", "edns0"
}

// ParseResolvConf reads resolv.conf(5) leniently, like glibc: blank lines,
// '#' and ';' comments, unknown directives and nameservers that are not IP
// addresses are skipped. It only fails when r fails or holds more than 1 MiB.
func ParseResolvConf(r io.Reader) (ResolvConf, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResolvConf+1))
	if err != nil {
		return ResolvConf{}, fmt.Errorf("reading resolv.conf: %w", err)
	}
	if len(data) > maxResolvConf {
		return ResolvConf{}, fmt.Errorf("reading resolv.conf: larger than %d bytes", maxResolvConf)
	}
	var c ResolvConf
	for line := range bytes.Lines(data) {
		f := strings.Fields(string(line))
		if len(f) < 2 || f[0][0] == '#' || f[0][0] == ';' {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil {
				c.Nameservers = append(c.Nameservers, a)
			}
		case "search", "domain":
			c.Search = append([]string(nil), f[1:]...)
		case "options":
			c.Options = append(c.Options, f[1:]...)
		}
	}
	return c, nil
}

// Write writes c in resolv.conf(5) form: one nameserver line per address,
// then one search line and one options line when they are not empty. Search
// domains and options that contain whitespace or are empty are skipped, so
// the output always parses back to the same values.
func (c ResolvConf) Write(w io.Writer) error {
	_, err := w.Write(c.Bytes())
	return err
}

// Bytes returns what Write writes, handy inside File.Update.
func (c ResolvConf) Bytes() []byte {
	var b bytes.Buffer
	for _, a := range c.Nameservers {
		if a.IsValid() {
			fmt.Fprintf(&b, "nameserver %s\n", a)
		}
	}
	writeList(&b, "search", c.Search)
	writeList(&b, "options", c.Options)
	return b.Bytes()
}

func writeList(b *bytes.Buffer, directive string, items []string) {
	var ok []string
	for _, s := range items {
		if s != "" && len(strings.Fields(s)) == 1 && s == strings.TrimSpace(s) {
			ok = append(ok, s)
		}
	}
	if len(ok) > 0 {
		fmt.Fprintf(b, "%s %s\n", directive, strings.Join(ok, " "))
	}
}

// ContainerResolvConf returns the resolv.conf Docker gives a container on a
// user-defined network, from the host's:
//
//	nameserver 127.0.0.11
//	search <the host's search domains>
//	options <the host's options> ndots:0
//
// The only nameserver is the embedded DNS ([EmbeddedDNS]). The host's search
// domains and options are kept; "ndots:0" is added unless the host sets a
// valid ndots itself (an invalid one is dropped and replaced), as Docker does.
//
// For the DNS feature: the embedded server forwards names it does not own to
// host.Nameservers. Loopback ones (127.0.0.53 of systemd-resolved) only
// answer in the host's netns, so the server must forward from there (Docker
// does the same), or fall back to other upstreams.
func ContainerResolvConf(host ResolvConf) ResolvConf {
	c := ResolvConf{
		Nameservers: []netip.Addr{EmbeddedDNS},
		Search:      append([]string(nil), host.Search...),
	}
	hasNdots := false
	for _, o := range host.Options {
		if v, ok := strings.CutPrefix(o, "ndots:"); ok {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				continue
			}
			hasNdots = true
		}
		c.Options = append(c.Options, o)
	}
	if !hasNdots {
		c.Options = append(c.Options, "ndots:0")
	}
	return c
}
