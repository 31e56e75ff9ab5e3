package integration

import (
	"strings"
	"testing"
)

// withoutEmptyTables is an h.snapshot() without the iptables tables that
// hold nothing: only built-in chains, policy ACCEPT, no rule.
func withoutEmptyTables(snap string) string {
	var b strings.Builder
	var table []string
	empty := true
	for _, l := range strings.SplitAfter(snap, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table, empty = []string{l}, true
		case table != nil && l == "COMMIT\n":
			if !empty {
				b.WriteString(strings.Join(table, "") + l)
			}
			table = nil
		case table != nil:
			table = append(table, l)
			empty = empty && strings.HasPrefix(l, ":") && strings.HasSuffix(l, " ACCEPT \n")
		default:
			b.WriteString(l)
		}
	}
	return b.String()
}

// withoutEmptyNftTables is an `nft list ruleset` without the tables of
// family ip whose chains hold no rule and accept.
func withoutEmptyNftTables(ruleset string) string {
	var out []string
	for _, t := range strings.SplitAfter(ruleset, "\n}\n") {
		body := strings.TrimSpace(t)
		empty := strings.HasPrefix(body, "table ip ")
		for _, l := range strings.Split(body, "\n")[1:] {
			l = strings.TrimSpace(l)
			empty = empty && (l == "" || l == "}" || strings.HasPrefix(l, "chain ") || (strings.HasPrefix(l, "type ") && strings.HasSuffix(l, "policy accept;")))
		}
		if !empty {
			out = append(out, t)
		}
	}
	return strings.Join(out, "")
}

func TestWithoutEmptyTables(t *testing.T) {
	snap := "*filter\n:INPUT ACCEPT \n:FORWARD ACCEPT \n:OUTPUT ACCEPT \nCOMMIT\n" +
		"*nat\n:PREROUTING ACCEPT \n:POSTROUTING ACCEPT \nCOMMIT\nlink lo\n"
	if got := withoutEmptyTables(snap); got != "link lo\n" {
		t.Errorf("empty tables: %q", got)
	}
	full := "*filter\n:INPUT ACCEPT \n:FORWARD DROP \nCOMMIT\n*nat\n:OUTPUT ACCEPT \n-A OUTPUT -j X\nCOMMIT\nlink lo\n"
	if got := withoutEmptyTables(full); got != full {
		t.Errorf("tables with a rule or a DROP policy: %q", got)
	}
	nft := "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy accept;\n\t}\n}\n" +
		"table inet plumb {\n\tset localnet_bridges {\n\t\ttype ifname\n\t}\n}\n"
	if got, want := withoutEmptyNftTables(nft), "table inet plumb {\n\tset localnet_bridges {\n\t\ttype ifname\n\t}\n}\n"; got != want {
		t.Errorf("nft: %q, want %q", got, want)
	}
	if got := withoutEmptyNftTables("table ip nat {\n\tchain OUTPUT {\n\t\ttype nat hook output priority -100; policy accept;\n\t\tcounter\n\t}\n}\n"); got == "" {
		t.Error("a table with a rule taken for empty")
	}
}
