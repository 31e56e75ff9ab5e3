package container

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// HostsEntry is one line plumb owns in a hosts file: an address and the
// names that resolve to it.
type HostsEntry struct {
	IP    netip.Addr
	Names []string
}

const hostsTagPrefix = "plumb:"

// SetHostsEntries returns old with every line previously written under tag
// removed and entries appended, one line each:
//
//	172.30.0.2\tweb web.sinatra-net\t# plumb:sinatra-net/abc
//
// Every other line is kept byte for byte, in order: comments, blank lines,
// Docker's own lines, other tags' lines, malformed lines. When a line is
// appended after a last line without a newline, a newline is added to it.
// nil entries only removes. The result is idempotent:
// SetHostsEntries(SetHostsEntries(b, t, e), t, e) equals SetHostsEntries(b, t, e).
//
// Entries without a valid (zone-less) IP or without a valid name are
// skipped; invalid names (empty, whitespace, '#', control or non-ASCII
// bytes) are dropped from an entry. An invalid tag (see [CheckHostsTag])
// leaves old unchanged: it could not be found again to be removed.
func SetHostsEntries(old []byte, tag string, entries []HostsEntry) []byte {
	if CheckHostsTag(tag) != nil {
		return bytes.Clone(old)
	}
	out := make([]byte, 0, len(old)+64*len(entries))
	for rest := old; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if !isTaggedHostsLine(line, tag) {
			out = append(out, line...)
		}
	}
	appended := false
	for _, e := range entries {
		line := formatHostsLine(e, tag)
		if line == "" {
			continue
		}
		if !appended && len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		appended = true
		out = append(out, line...)
	}
	return out
}

// RemoveHostsEntries returns old without the lines written under tag; every
// other byte is kept.
func RemoveHostsEntries(old []byte, tag string) []byte {
	return SetHostsEntries(old, tag, nil)
}

// CheckHostsTag reports whether tag can mark plumb's lines: 1 to 255
// printable ASCII bytes, no whitespace, no '#'. A network name and endpoint
// id joined by "/" ("sinatra-net/abc") is a good tag.
func CheckHostsTag(tag string) error {
	if tag == "" || len(tag) > 255 {
		return fmt.Errorf("hosts tag %.40q: must be 1 to 255 bytes", tag)
	}
	if !isHostsToken(tag) {
		return fmt.Errorf("hosts tag %q: must be printable ASCII without spaces or '#'", tag)
	}
	return nil
}

// formatHostsLine renders e, or "" when nothing valid is left of it.
func formatHostsLine(e HostsEntry, tag string) string {
	if !e.IP.IsValid() || e.IP.Zone() != "" {
		return ""
	}
	var names []string
	for _, n := range e.Names {
		if n != "" && len(n) <= 255 && isHostsToken(n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return e.IP.String() + "\t" + strings.Join(names, " ") + "\t# " + hostsTagPrefix + tag + "\n"
}

// isTaggedHostsLine reports whether line has plumb's shape for tag: an
// address and at least one name, then a comment that is exactly "plumb:TAG"
// (surrounding whitespace, including a CR, ignored).
func isTaggedHostsLine(line []byte, tag string) bool {
	i := bytes.IndexByte(line, '#')
	if i < 0 {
		return false
	}
	if len(bytes.Fields(line[:i])) < 2 {
		return false
	}
	c := bytes.TrimSpace(line[i+1:])
	return len(c) == len(hostsTagPrefix)+len(tag) &&
		string(c[:len(hostsTagPrefix)]) == hostsTagPrefix &&
		string(c[len(hostsTagPrefix):]) == tag
}

// isHostsToken: printable ASCII, no space, no '#'.
func isHostsToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}
