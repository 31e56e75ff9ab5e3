package iptables

import "fmt"

// Emitter takes the commands of a dry run (package script's Script is one):
// Heredoc(body, args...) is `ARGS... <<'EOF'` body `EOF`; Line is one
// command line, quoted already.
type Emitter interface {
	Heredoc(body string, args ...string)
	Line(line string)
}

// NewScript returns a Firewall for a dry run: it reads the ruleset as New's
// does (`iptables-save`), plans exactly as New's does, and instead of
// writing hands each write to out as the command that makes it:
//
//	iptables-restore --noflush <<'EOF'
//	*filter
//	-N PLUMB-FORWARD
//	...
//	COMMIT
//	EOF
//
// It changes nothing and takes no lock. A write it hands out is not seen by
// its next read: one dry-run operation plans from one reading.
func NewScript(out Emitter) (*Firewall, error) {
	r, err := newExecRunner()
	if err != nil {
		return nil, fmt.Errorf("setting up iptables: %w", err)
	}
	return newFirewall(&scriptRunner{read: r, out: out}, ""), nil
}

// scriptRunner reads through read and writes to out.
type scriptRunner struct {
	read runner
	out  Emitter
}

func (r *scriptRunner) save() ([]byte, error) { return r.read.save() }

func (r *scriptRunner) restore(payload []byte, noflush bool) error {
	if noflush {
		r.out.Heredoc(string(payload), "iptables-restore", "--noflush")
	} else {
		r.out.Heredoc(string(payload), "iptables-restore")
	}
	return nil
}

func (r *scriptRunner) apply(o op) error {
	r.out.Line(o.String())
	return nil
}
