package iptables

import "fmt"

// Emitter takes the commands of a dry run (package script's Script is one):
// Heredoc(body, args...) is `ARGS... <<'EOF'` body `EOF`; Line is one
// command line, quoted already.
type Emitter interface {
	Heredoc(body string, args ...string)
	Line(line string)
}

// NewScript returns a Firewall for a dry run: it reads the ruleset once
// (`iptables-save`), plans exactly as New's does, and instead of writing
// hands each write to out as the command that makes it:
//
//	iptables-restore --noflush <<'EOF'
//	*filter
//	-N PLUMB-FORWARD
//	...
//	COMMIT
//	EOF
//
// and applies it to its copy of the ruleset, from which its later reads
// are served: the script is planned write after write, as a run of the
// real commands would be, so that a rule one write deletes is not deleted
// again by the next. A write the copy refuses (as iptables-restore would)
// fails the call. It changes nothing and takes no lock.
//
// The ip6tables rules of networks with IPv6 are planned the same way from
// one `ip6tables-save`, read only when a call needs it, and printed as
// `ip6tables-restore --noflush <<'EOF'` ... and `ip6tables -t ...`.
func NewScript(out Emitter) (*Firewall, error) {
	r, err := newExecRunner()
	if err != nil {
		return nil, fmt.Errorf("setting up iptables: %w", err)
	}
	f := newFirewall(&scriptRunner{read: r, out: out}, "")
	if r6, err := newFamilyRunner(true); err != nil {
		f.err6 = err
	} else {
		f.run6, f.err6, f.ipv6 = &scriptRunner{read: r6, out: out, v6: true}, nil, kernelHasIPv6
	}
	return f, nil
}

// scriptRunner reads through read once, then serves reads from mem, to
// which it applies each write it hands to out.
type scriptRunner struct {
	read runner
	out  Emitter
	mem  *memRuleset
	v6   bool // ip6tables
}

func (r *scriptRunner) save() ([]byte, error) {
	if r.mem == nil {
		b, err := r.read.save()
		if err != nil {
			return nil, err
		}
		s, err := parseSave(b)
		if err != nil {
			return nil, err
		}
		r.mem = memFromSnapshot(s)
	}
	return r.mem.render(), nil
}

func (r *scriptRunner) restore(payload []byte, noflush bool) error {
	if _, err := r.save(); err != nil {
		return err
	}
	if err := r.mem.restore(payload, noflush); err != nil {
		return fmt.Errorf("the dry run's %s-restore would fail: %w", binary(r.v6), err)
	}
	if noflush {
		r.out.Heredoc(string(payload), binary(r.v6)+"-restore", "--noflush")
	} else {
		r.out.Heredoc(string(payload), binary(r.v6)+"-restore")
	}
	return nil
}

func (r *scriptRunner) apply(o op) error {
	if _, err := r.save(); err != nil {
		return err
	}
	if err := r.mem.apply(o); err != nil {
		return fmt.Errorf("the dry run's %s would fail: %w", r.command(o), err)
	}
	r.out.Line(r.command(o))
	return nil
}

// command is o as the iptables (ip6tables) command line that applies it.
func (r *scriptRunner) command(o op) string {
	return binary(r.v6) + " -t " + o.table + " " + o.line()
}
