package explain

import "net/netip"

// Verdicts.
const (
	Reachable  = "reachable"
	Blocked    = "blocked"
	NoListener = "no listener"
	NoRoute    = "no route"
	// NotFollowed: DST is a name only upstream DNS resolves, which explain
	// never queries, so the path is not followed past the name.
	NotFollowed = "not followed"
)

// Step is one numbered step of the path.
type Step struct {
	N       int    `json:"n"`
	What    string `json:"what"`              // "name", "route", "bridge", "firewall", "nat", "listener", "return"
	Detail  string `json:"detail"`            // one line for a person
	Rule    string `json:"rule,omitempty"`    // the deciding rule as the backend holds it
	Result  string `json:"result,omitempty"`  // ACCEPT, DROP, DNAT, MASQUERADE, missing, ...
	Command string `json:"command,omitempty"` // the command that shows the same thing
}

// Report is what Explain found.
type Report struct {
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Address string `json:"address"`        // DST's address as SRC aims at it
	Port    uint16 `json:"port,omitempty"` // 0: no port given
	Proto   string `json:"proto"`
	Steps   []Step `json:"steps"`
	Verdict string `json:"verdict"`
	// Reason says why, for every verdict but reachable: the rule and why
	// plumb put it there, or what is missing. A reachable verdict has one
	// when the path was not followed to its end (it leaves the host).
	Reason string `json:"reason,omitempty"`
	// Drift lists what plumb's model says should be in the kernel and is
	// not (the daemon repairs it).
	Drift []string `json:"drift,omitempty"`
	Probe *Probe   `json:"probe,omitempty"`

	nameBlocked bool   // SRC cannot resolve the name: the probe asks for it
	upstream    bool   // only upstream DNS resolves the name: nothing to probe
	srcNS       string // SRC's namespace path, as Explain resolved it, for the probe
	name        string
	nameServer  netip.Addr
	want6       bool // the name was resolved to its IPv6 address (-6)
}

// Probe is the result of a real connection from SRC.
type Probe struct {
	Result string `json:"result"` // a verdict
	Detail string `json:"detail"` // what the socket said
	Agrees bool   `json:"agrees"`

	silent bool // UDP with no reply and no ICMP error: inconclusive
}

// add appends a step, numbered.
func (r *Report) add(s Step) {
	s.N = len(r.Steps) + 1
	r.Steps = append(r.Steps, s)
}

// decide sets the verdict once: the first step that ends the path wins.
func (r *Report) decide(verdict, reason string) {
	if r.Verdict != "" {
		return
	}
	r.Verdict, r.Reason = verdict, reason
}
