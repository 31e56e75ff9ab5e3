package container

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

const dockerHosts = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::\tip6-localnet\n" +
	"ff00::\tip6-mcastprefix\n" +
	"ff02::1\tip6-allnodes\n" +
	"ff02::2\tip6-allrouters\n" +
	"172.17.0.2\t4f66ad9a0b2e\n"

func TestSetHostsEntries(t *testing.T) {
	web := HostsEntry{IP: netip.MustParseAddr("172.30.0.2"), Names: []string{"sinatra-web", "4f66ad9a0b2e"}}
	out := SetHostsEntries([]byte(dockerHosts), "sinatra-net/abc", []HostsEntry{web})
	want := dockerHosts + "172.30.0.2\tsinatra-web 4f66ad9a0b2e\t# plumb:sinatra-net/abc\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}

	// Another tag's lines stay; re-setting replaces only ours.
	out = SetHostsEntries(out, "other-net/def", []HostsEntry{{IP: netip.MustParseAddr("fd00::5"), Names: []string{"web"}}})
	web.IP = netip.MustParseAddr("172.30.0.9")
	out = SetHostsEntries(out, "sinatra-net/abc", []HostsEntry{web})
	want = dockerHosts +
		"fd00::5\tweb\t# plumb:other-net/def\n" +
		"172.30.0.9\tsinatra-web 4f66ad9a0b2e\t# plumb:sinatra-net/abc\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}

	out = RemoveHostsEntries(out, "sinatra-net/abc")
	out = RemoveHostsEntries(out, "other-net/def")
	if string(out) != dockerHosts {
		t.Fatalf("after removal got\n%s\nwant\n%s", out, dockerHosts)
	}
}

func TestSetHostsEntriesKeepsOtherLines(t *testing.T) {
	old := "# a comment  with  spaces\r\n" +
		"\n" +
		"   \t\n" +
		"10.0.0.1 db # plumb:sinatra-net/abcd\n" + // a longer tag
		"10.0.0.2 db # plumb:sinatra-net/ab\n" + // a shorter tag
		"# plumb:sinatra-net/abc\n" + // not an entry: a bare comment
		"10.0.0.3 # plumb:sinatra-net/abc\n" + // no name: not ours
		"\xff\xfe binary \x00 junk\n" +
		"10.0.0.4 last-no-newline"
	tagged := "10.1.1.1\tx y\t# plumb:sinatra-net/abc\n" +
		"10.1.1.2   z   #   plumb:sinatra-net/abc  \r\n" // hand-reformatted: still ours
	got := RemoveHostsEntries([]byte(tagged+old), "sinatra-net/abc")
	if string(got) != old {
		t.Errorf("remove: got %q\nwant %q", got, old)
	}
	got = SetHostsEntries([]byte(old), "sinatra-net/abc", []HostsEntry{{IP: netip.MustParseAddr("10.9.9.9"), Names: []string{"n"}}})
	want := old + "\n10.9.9.9\tn\t# plumb:sinatra-net/abc\n"
	if string(got) != want {
		t.Errorf("set: got %q\nwant %q", got, want)
	}
	// Nothing to append: the missing final newline stays missing.
	if got := SetHostsEntries([]byte(old), "t", nil); string(got) != old {
		t.Errorf("nil entries changed the file: %q", got)
	}
}

func TestSetHostsEntriesFilters(t *testing.T) {
	entries := []HostsEntry{
		{IP: netip.Addr{}, Names: []string{"zero"}},
		{IP: netip.MustParseAddr("fe80::1%eth0"), Names: []string{"zoned"}},
		{IP: netip.MustParseAddr("10.0.0.1"), Names: nil},
		{IP: netip.MustParseAddr("10.0.0.2"), Names: []string{"", "has space", "hash#", "ctl\n", "ok", "ü"}},
	}
	got := string(SetHostsEntries(nil, "t", entries))
	if got != "10.0.0.2\tok\t# plumb:t\n" {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"", "a b", "a#b", "a\nb", strings.Repeat("x", 256)} {
		if CheckHostsTag(bad) == nil {
			t.Errorf("CheckHostsTag(%q) accepted", bad)
		}
		in := []byte("1.1.1.1 a\n")
		if got := SetHostsEntries(in, bad, entries); !bytes.Equal(got, in) {
			t.Errorf("invalid tag %q changed the file: %q", bad, got)
		}
	}
	if err := CheckHostsTag("sinatra-net/4f66ad9a"); err != nil {
		t.Error(err)
	}
}

// hostsLines splits b into lines without their "\n".
func hostsLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func FuzzSetHostsEntries(f *testing.F) {
	f.Add([]byte(dockerHosts), "net/ep", "172.30.0.2", "web alias")
	f.Add([]byte("1.2.3.4 a # plumb:t\nno newline"), "t", "::1", "x")
	f.Add([]byte("\x00\xff\n\r\n#\n# plumb:t\n"), "t", "10.0.0.1", "")
	f.Add([]byte(strings.Repeat("y", 70000)), "t/1", "fd00::1", "a b c")
	f.Fuzz(func(t *testing.T, old []byte, tag, ip, names string) {
		var entries []HostsEntry
		if a, err := netip.ParseAddr(ip); err == nil {
			entries = append(entries, HostsEntry{IP: a, Names: strings.Split(names, " ")})
			entries = append(entries, HostsEntry{IP: a, Names: strings.Fields(names)})
		}
		once := SetHostsEntries(old, tag, entries)
		twice := SetHostsEntries(once, tag, entries)
		if !bytes.Equal(once, twice) {
			t.Fatalf("not idempotent:\nonce  %q\ntwice %q", once, twice)
		}
		if CheckHostsTag(tag) != nil {
			if !bytes.Equal(once, old) {
				t.Fatalf("invalid tag %q changed the file", tag)
			}
			return
		}
		// Every line that is not ours survives, in order.
		var keptOld, keptNew []string
		for _, l := range hostsLines(old) {
			if !isTaggedHostsLine([]byte(l), tag) {
				keptOld = append(keptOld, l)
			}
		}
		for _, l := range hostsLines(once) {
			if !isTaggedHostsLine([]byte(l), tag) {
				keptNew = append(keptNew, l)
			}
		}
		if strings.Join(keptOld, "\n") != strings.Join(keptNew, "\n") || len(keptOld) != len(keptNew) {
			t.Fatalf("other lines changed:\nold %q\nnew %q", keptOld, keptNew)
		}
		// Removing leaves exactly the other lines.
		removed := RemoveHostsEntries(once, tag)
		if !bytes.Equal(RemoveHostsEntries(removed, tag), removed) {
			t.Fatal("remove not idempotent")
		}
		if strings.Join(hostsLines(removed), "\n") != strings.Join(keptOld, "\n") {
			t.Fatalf("remove left %q, want %q", removed, keptOld)
		}
	})
}
