package iptables

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	goiptables "github.com/coreos/go-iptables/iptables"
)

// runner is the whole exec surface of the package. The planning code only
// sees it, so unit tests run it against an in-memory fake.
type runner interface {
	// save returns the output of `iptables-save` (all tables).
	save() ([]byte, error)
	// restore feeds payload to `iptables-restore --noflush --wait`, or
	// without --noflush (which replaces, and under iptables-nft deletes, the
	// tables named in payload) when noflush is false.
	restore(payload []byte, noflush bool) error
	// apply runs one op as one iptables command. Deleting what is already
	// gone is success. It is the fallback when a batched delete fails.
	apply(o op) error
}

// execRunner runs the iptables binaries found in $PATH, or the ip6tables
// ones (v6).
type execRunner struct {
	v6           bool
	iptablesPath string
	savePath     string
	restorePath  string

	mu   sync.Mutex
	ipt  *goiptables.IPTables // made on first use: it execs `iptables --version`
	wait bool                 // pass --wait to iptables-restore (1.6.2 and later)
}

// newExecRunner locates iptables-save and iptables-restore. It execs
// nothing: go-iptables (which reads the version of iptables) is set up only
// for the one-command fallback, and --wait is assumed until an
// iptables-restore older than 1.6.2 refuses it.
func newExecRunner() (*execRunner, error) { return newFamilyRunner(false) }

// newFamilyRunner is newExecRunner for ip6tables, ip6tables-save and
// ip6tables-restore when v6.
func newFamilyRunner(v6 bool) (*execRunner, error) {
	r := &execRunner{v6: v6, wait: true}
	bin := binary(v6)
	var err error
	if r.iptablesPath, err = lookPath(bin); err != nil {
		return nil, err
	}
	if r.savePath, err = lookPath(bin + "-save"); err != nil {
		return nil, err
	}
	if r.restorePath, err = lookPath(bin + "-restore"); err != nil {
		return nil, err
	}
	return r, nil
}

// iptables returns the go-iptables handle, made on first use.
func (r *execRunner) iptables() (*goiptables.IPTables, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ipt == nil {
		proto := goiptables.ProtocolIPv4
		if r.v6 {
			proto = goiptables.ProtocolIPv6
		}
		ipt, err := goiptables.New(goiptables.IPFamily(proto), goiptables.Path(r.iptablesPath))
		if err != nil {
			return nil, fmt.Errorf("locating %s: %w", binary(r.v6), err)
		}
		r.ipt = ipt
	}
	return r.ipt, nil
}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("locating %s: %w", name, err)
	}
	return filepath.Clean(p), nil
}

func (r *execRunner) save() ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(r.savePath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running %s-save: %w: %s", binary(r.v6), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func (r *execRunner) restore(payload []byte, noflush bool) error {
	r.mu.Lock()
	wait := r.wait
	r.mu.Unlock()
	stderr, err := r.restoreOnce(payload, noflush, wait)
	if err != nil && wait && strings.Contains(stderr, "--wait") {
		// An iptables-restore older than 1.6.2: no --wait, ever.
		r.mu.Lock()
		r.wait = false
		r.mu.Unlock()
		_, err = r.restoreOnce(payload, noflush, false)
	}
	return err
}

// restoreOnce runs iptables-restore and returns its stderr with its error.
func (r *execRunner) restoreOnce(payload []byte, noflush, wait bool) (string, error) {
	var args []string
	if noflush {
		args = append(args, "--noflush")
	}
	if wait {
		args = append(args, "--wait")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(r.restorePath, args...)
	cmd.Stdin, cmd.Stderr = bytes.NewReader(payload), &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if l := failedLine(msg, payload); l != "" {
			msg += fmt.Sprintf(" (%q)", l)
		}
		return stderr.String(), fmt.Errorf("running %s-restore %s: %w: %s", binary(r.v6), strings.Join(args, " "), err, msg)
	}
	return "", nil
}

// lineRE is compiled on first use: an init-time regexp costs every plumb
// command's start, and only a failed restore reads it.
var lineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Error occurred at line: (\d+)`) })

// failedLine returns the payload line iptables-restore complained about.
func failedLine(msg string, payload []byte) string {
	m := lineRE().FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(payload), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

func (r *execRunner) apply(o op) error {
	ipt, err := r.iptables()
	if err != nil {
		return err
	}
	switch o.kind {
	case opNewChain:
		var ok bool
		if ok, err = ipt.ChainExists(o.table, o.chain); err == nil && !ok {
			err = ipt.NewChain(o.table, o.chain)
		}
	case opInsert:
		err = ipt.Insert(o.table, o.chain, 1, o.spec...)
	case opAppend:
		err = ipt.Append(o.table, o.chain, o.spec...)
	case opDelete:
		err = ipt.Delete(o.table, o.chain, o.spec...)
	case opFlush:
		var ok bool
		if ok, err = ipt.ChainExists(o.table, o.chain); err == nil && ok {
			err = ipt.ClearChain(o.table, o.chain) // flushes an existing chain
		}
	case opDeleteChain:
		err = ipt.DeleteChain(o.table, o.chain)
	}
	var ierr *goiptables.Error
	if (o.kind == opDelete || o.kind == opDeleteChain) && errors.As(err, &ierr) && ierr.IsNotExist() {
		return nil
	}
	return err // go-iptables errors name the command and carry its stderr
}
