package nftables

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	nft "github.com/google/nftables"
	"github.com/google/nftables/userdata"

	"github.com/plumbnet/plumb/firewall"
)

// CheckNetwork reports whether NetTable and n's elements (and, while
// iptables' FORWARD policy is DROP, n's accept rules there) are as
// EnsureNetwork leaves them. It changes nothing and takes no lock: one
// read. The error lists every problem with the nft command that mends it.
// Equivalent to: `nft list table inet plumb-networks` and reading it.
func (f *Firewall) CheckNetwork(n firewall.Network) error { return f.CheckEndpoint(n, "", nil) }

// CheckEndpoint is CheckNetwork, and checks in the same read that owner's
// ports are published on n.
func (f *Firewall) CheckEndpoint(n firewall.Network, owner string, ports []firewall.Port) error {
	return firewall.CheckOnce(f, n, owner, ports)
}

// Snapshot reads the tables once (no lock) and answers checks from that
// reading; a dry run answers from its copy.
func (f *Firewall) Snapshot() (firewall.Checker, error) {
	if f.out != nil {
		unlock, err := f.lock()
		if err != nil {
			return nil, err
		}
		defer unlock()
		st, err := f.scriptState()
		if err != nil {
			return nil, err
		}
		return &netChecker{st: st.clone()}, nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	st, err := readNet(c, true)
	if err != nil {
		return nil, err
	}
	return &netChecker{st: st}, nil
}

// netChecker answers checks from one reading.
type netChecker struct {
	st        *netState
	once      sync.Once
	structure []string
}

func (c *netChecker) CheckNetwork(n firewall.Network) error { return c.CheckEndpoint(n, "", nil) }

func (c *netChecker) CheckEndpoint(n firewall.Network, owner string, ports []firewall.Port) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	if len(ports) > 0 {
		if err := firewall.ValidatePorts(n.Name, owner, ports); err != nil {
			return err
		}
	}
	c.once.Do(func() { c.structure = structureProblems(c.st) })
	problems := slices.Clone(c.structure)
	if c.st.exists {
		problems = append(problems, elemProblems(c.st, netElems(n))...)
		problems = append(problems, elemProblems(c.st, portElems(n.Name, owner, ports))...)
	}
	problems = append(problems, c.st.fwd.foreignProblems(n)...)
	problems = append(problems, c.st.fwd6.foreignProblems(n)...)
	if len(problems) > 0 {
		return fmt.Errorf("firewall rules of network %q are not in place: %s", n.Name, strings.Join(problems, "; "))
	}
	return nil
}

// PortOwners lists, by network name, the owners of the elements of the
// port maps (comment "plumb:NAME/OWNER").
func (c *netChecker) PortOwners() map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, m := range portMaps {
		for _, e := range sortedElems(c.st.elems[m]) {
			rest, ok := strings.CutPrefix(e.comment, "plumb:")
			name, owner, ok2 := strings.Cut(rest, "/")
			if !ok || !ok2 || seen[rest] {
				continue
			}
			seen[rest] = true
			out[name] = append(out[name], owner)
		}
	}
	return out
}

// structureProblems lists what keeps NetTable from being as netdefs.go
// defines it, each with the nft command that mends it.
func structureProblems(st *netState) []string {
	if !st.exists {
		return []string{fmt.Sprintf("table inet %s missing (nft add table inet %s)", NetTable, NetTable)}
	}
	var out []string
	for _, s := range netSetNames {
		kind := "set"
		if netSet(s).IsMap {
			kind = "map"
		}
		switch {
		case st.sets[s] == nil:
			out = append(out, fmt.Sprintf("%s %s missing (nft add %s inet %s %s { %s })", kind, s, kind, NetTable, s, setDecl(s)))
		case !st.setSound(s):
			out = append(out, fmt.Sprintf("%s %s is not { %s }", kind, s, setDecl(s)))
		}
	}
	for _, ch := range netChainNames {
		decl := netChainText(netChain(ch))
		switch {
		case st.chains[ch] == nil:
			out = append(out, fmt.Sprintf("chain %s missing (nft add chain inet %s %s { %s })", ch, NetTable, ch, decl))
		case !st.chainHooked(ch):
			out = append(out, fmt.Sprintf("chain %s is not { %s }", ch, decl))
		default:
			out = append(out, ruleProblems(st, ch)...)
		}
	}
	return out
}

// ruleProblems lists the rules chain ch lacks, or says that it holds
// others or holds them out of order.
func ruleProblems(st *netState, ch string) []string {
	if st.rulesSound(ch) {
		return nil
	}
	var out []string
	for _, want := range netRules[ch] {
		found := slices.ContainsFunc(st.rules[ch], func(r *nft.Rule) bool {
			cm, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			return cm == want.comment && reflect.DeepEqual(normalize(r.Exprs), normalize(want.exprs()))
		})
		if !found {
			out = append(out, fmt.Sprintf("rule missing (nft add rule inet %s %s %s comment %q)", NetTable, ch, want.text, want.comment))
		}
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("chain %s holds rules that are not plumb's, or out of order (nft flush chain inet %s %s, then add plumb's)", ch, NetTable, ch))
	}
	return out
}

// elemProblems lists the elements of want missing or different in st.
func elemProblems(st *netState, want []elem) []string {
	var out []string
	for _, e := range want {
		have, ok := st.elems[e.set][e.key]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("element missing (nft %s)", elemCmd("add", e)))
		case have != e:
			out = append(out, fmt.Sprintf("element %s is %q, want %q (nft %s; nft %s)", e.set, have.text(), e.text(),
				elemCmd("delete", have), elemCmd("add", e)))
		}
	}
	return out
}
