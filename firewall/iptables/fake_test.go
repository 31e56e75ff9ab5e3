package iptables

import (
	"fmt"
	"strings"
)

// fakeIPT is an in-memory iptables (memRuleset) that counts what it is
// asked and can be made to fail.
type fakeIPT struct {
	memRuleset

	saves    int
	payloads []string // every restore payload, "noflush:" or "flush:" first
	applied  []string // every op run one by one
	// failRestores makes the next n restores fail without changing anything.
	failRestores int
}

func newFake() *fakeIPT {
	return &fakeIPT{memRuleset: memRuleset{nft: true, tables: map[string]*memTable{}}}
}

func (f *fakeIPT) save() ([]byte, error) {
	f.saves++
	return f.render(), nil
}

func (f *fakeIPT) restore(payload []byte, noflush bool) error {
	mode := "flush:"
	if noflush {
		mode = "noflush:"
	}
	f.payloads = append(f.payloads, mode+string(payload))
	if f.failRestores > 0 {
		f.failRestores--
		return fmt.Errorf("fake iptables-restore: failing on purpose")
	}
	return f.memRuleset.restore(payload, noflush)
}

func (f *fakeIPT) apply(o op) error {
	f.applied = append(f.applied, o.String())
	return f.memRuleset.apply(o)
}

// fakeRun runs an iptables command line ("-t nat -A POSTROUTING ...")
// against the fake, the way a test sets up a foreign ruleset.
func (f *fakeIPT) run(cmdline string) {
	tname := "filter"
	if strings.HasPrefix(cmdline, "-t ") {
		f := strings.Fields(cmdline)
		tname, cmdline = f[1], strings.Join(f[2:], " ")
	}
	if strings.HasPrefix(cmdline, "-P ") {
		f2 := strings.Fields(cmdline)
		memTableFor(f.tables, tname).chain(f2[1]).policy = f2[2]
		return
	}
	if err := memExec(f.tables, tname, cmdline); err != nil {
		panic(fmt.Sprintf("fake run %q: %v", cmdline, err))
	}
}
