package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/nftables"
	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/portmap"
	"github.com/plumbnet/plumb/script"
)

// DefaultStateDir is where plumb keeps its state unless told otherwise.
const DefaultStateDir = control.DefaultStateDir

// Manager runs plumb's operations against one state directory. Its
// dependencies are interfaces so that the orchestration can be tested
// with fakes; a nil one is the real thing, made on first use.
type Manager struct {
	StateDir string
	// RunDir holds the daemon's socket and pid file; empty: control.RunDir's
	// default for StateDir.
	RunDir string
	// NoDNS leaves the name service out of attach: no daemon is started
	// and no listener is made (for hosts that want only plumbing).
	NoDNS bool
	// Fault, when set, is called before each named step of Attach, Create
	// and Detach; an error it returns fails that step. Tests use it to
	// prove that every failure rolls back.
	Fault func(step string) error

	// Links is the kernel's links: package bridge and veth; nil: the real kernel.
	Links Links
	// Firewall holds the rules; nil: the backend the host's networks use
	// (FirewallBackend), made on first use.
	Firewall firewall.Firewall
	// FirewallOf makes the backend named "iptables" or "nftables" when
	// Firewall is nil; nil: the real backends. Tests of SwitchFirewall give
	// two fakes.
	FirewallOf func(backend string) (firewall.Firewall, error)
	// Guard keeps route_localnet on the bridges from opening the host's
	// loopback; nil: Firewall when it is a firewall.LocalnetGuard too (the
	// Fake is), else the one in plumb's nftables table.
	Guard firewall.LocalnetGuard
	// Daemon is the plumb daemon; nil: a control.Client of RunDir.
	Daemon Daemon
	// Targets resolves target specs; nil: container.Resolver with Docker.
	Targets Targets
	// Docker is the Engine client target resolution uses; nil: $DOCKER_HOST's.
	Docker *docker.Client
	// DryRun, when set, makes Create, Remove, Attach and Detach change
	// nothing: they read the real state and append to it, in order, the
	// shell commands and file writes that would make the same change
	// (dryrun.go). Set it before the first call.
	DryRun *script.Script

	// FirewallChoice is the --firewall value: "" (DefaultFirewall),
	// "auto", "iptables", "nftables". It picks the backend of a host that
	// has none recorded (FirewallBackend); SwitchFirewall moves the
	// networks to it.
	FirewallChoice string

	once  sync.Once
	dryst dryState // what a dry run has done so far (dryrun_state.go)

	fwMu       sync.Mutex
	fwKind     string // the backend fw made Firewall of; "": Firewall was given
	detectOnce sync.Once
	detected   string // DetectFirewall's choice
}

// Daemon is what network needs of the plumb daemon (control.Client).
type Daemon interface {
	Start() error
	Up(network, id string) error
	Down(network, id string) error
	Reap(r control.Reap) error
	Hold(network, id string, reqs []portmap.Request) ([]portmap.Mapping, error)
	Release(network, id string) error
	Sync() error
	Records(network string) ([]control.Record, error)
	Listeners() (control.Listening, error)
	// Remotes has a running daemon serve the remote endpoint records of
	// network (SetRemotes); it does not start one.
	Remotes(network string) error
}

// Targets resolves a target spec (container.Resolver).
type Targets interface {
	Resolve(ctx context.Context, spec string) (*container.Target, error)
}

// NewManager returns a Manager over stateDir, or DefaultStateDir when
// empty, with the real kernel, firewall, daemon and target resolver.
func NewManager(stateDir string) *Manager {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	return &Manager{StateDir: stateDir}
}

// init fills in the real dependencies left nil, but the firewall (fw).
func (m *Manager) init() {
	m.once.Do(func() {
		if m.Links == nil {
			m.Links = kernelLinks{}
		}
		if m.Daemon == nil {
			runDir := m.runDir()
			m.Daemon = control.NewClient(runDir, control.Starter{StateDir: m.StateDir, RunDir: runDir}.Start)
		}
		if m.Targets == nil {
			m.Targets = &container.Resolver{Docker: m.Docker}
		}
		if m.dry() {
			m.initDry()
		}
	})
}

// runDir is where the daemon of this state directory keeps its socket.
func (m *Manager) runDir() string { return control.RunDir(m.StateDir, m.RunDir) }

// RunDirPath is the run directory of this Manager's daemon.
func (m *Manager) RunDirPath() string { return m.runDir() }

func (m *Manager) links() Links     { m.init(); return m.Links }
func (m *Manager) daemon() Daemon   { m.init(); return m.Daemon }
func (m *Manager) targets() Targets { m.init(); return m.Targets }

// fw is the firewall: Manager.Firewall when the caller gave one, else the
// backend the host's networks use (FirewallBackend), made on first use: an
// attach without ports never needs it. The record is read again at each
// call, so a long-lived Manager (the daemon's) follows a switch another
// process made (SwitchFirewall); a dry run keeps the one it made, whose
// copy of the rules holds the run's changes. Its writes are ordered across
// processes by RUNDIR/firewall.lock: the run dir is per plumb instance, as
// the firewall is per network namespace.
func (m *Manager) fw() (firewall.Firewall, error) {
	if fw := m.givenFirewall(); fw != nil {
		return fw, nil
	}
	m.fwMu.Lock()
	defer m.fwMu.Unlock()
	if m.dry() && m.fwKind != "" {
		return m.Firewall, nil
	}
	kind, err := m.chosenBackend()
	if m.dry() && (m.FirewallChoice == FirewallIptables || m.FirewallChoice == FirewallNftables) {
		kind, err = m.FirewallChoice, nil // what the run would write with once switched
	}
	if err != nil {
		return nil, err
	}
	if m.Firewall != nil && kind == m.fwKind {
		return m.Firewall, nil
	}
	fw, err := m.newFirewall(kind)
	if err != nil {
		return nil, err
	}
	m.Firewall, m.fwKind = fw, kind
	return fw, nil
}

// guard is the localnet guard (see Manager.Guard). It opens nothing until
// called.
func (m *Manager) guard() firewall.LocalnetGuard {
	if m.dry() {
		m.init()
		return m.dryst.guard
	}
	if m.Guard != nil {
		return m.Guard
	}
	if g, ok := m.givenFirewall().(firewall.LocalnetGuard); ok {
		return g
	}
	return nftables.NewLocalnetGuard(m.firewallLock())
}

// firewallLock orders the firewall's writes (iptables and the nftables
// guard) across plumb processes of this run dir.
func (m *Manager) firewallLock() string { return filepath.Join(m.runDir(), "firewall.lock") }

func (m *Manager) fault(step string) error {
	if m.Fault == nil {
		return nil
	}
	if err := m.Fault(step); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}

// lockGlobal takes the state directory's global lock, which orders network
// create and rm (and so the firewall's shared chains) across processes.
func (m *Manager) lockGlobal() (*lockfile.Lock, error) {
	if m.dry() {
		return nil, nil // a dry run creates no lock file; nil unlocks
	}
	if err := os.MkdirAll(m.networksDir(), 0o755); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", m.StateDir, err)
	}
	return lockfile.Acquire(filepath.Join(m.StateDir, "lock"))
}

// lockNetwork takes the lock of network name, which orders attach, detach
// and rm of one network across processes: one target is never attached and
// detached at once, and a network is never removed under an attach. Lock
// order: the global lock (if any) first, then a network's, then the
// firewall's. It fails with ErrNotFound when the network does not exist.
func (m *Manager) lockNetwork(name string) (*lockfile.Lock, error) {
	if _, err := os.Stat(m.netDir(name)); err != nil || m.dryGone(m.netDir(name)) {
		return nil, fmt.Errorf("network %q %w", name, ErrNotFound)
	}
	if m.dry() {
		return nil, nil
	}
	return lockfile.Acquire(filepath.Join(m.netDir(name), "attach.lock"))
}

// lockExisting locks the network netName and reads its config under the
// lock. A name no network can have, or a network that does not exist, is
// nil with no error: nothing to do for a DEL or a GC.
func (m *Manager) lockExisting(netName string) (*Network, func(), error) {
	if ValidateName(netName) != nil {
		return nil, nil, nil
	}
	nlock, err := m.lockNetwork(netName)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	n, err := m.Get(netName)
	if err != nil {
		nlock.Unlock()
		return nil, nil, err
	}
	return n, func() { nlock.Unlock() }, nil
}

// DNSRecord is one name the daemon answers, for `plumb dns ls`.
type DNSRecord = control.Record

// ErrDaemonNotRunning is returned by requests that do not start the daemon.
var ErrDaemonNotRunning = control.ErrNotRunning

// DNSRecords lists the names the running daemon serves, on netName or on
// every network.
func (m *Manager) DNSRecords(netName string) ([]DNSRecord, error) {
	if netName != "" {
		if _, err := m.Get(netName); err != nil {
			return nil, err
		}
	}
	return m.daemon().Records(netName)
}

// StateDNSRecords are the names the daemon would serve on netName (every
// network when empty), read from the endpoint records: what it serves
// once it runs. Equivalent to: reading STATEDIR/networks/NET/endpoints.
func (m *Manager) StateDNSRecords(netName string) []DNSRecord {
	nets := []string{netName}
	if netName == "" {
		nets, _ = m.networkNames()
	}
	var out []DNSRecord
	for _, n := range nets {
		eps, _ := m.Endpoints(n)
		for _, ep := range eps {
			for _, name := range ep.DNSNames() {
				for _, ip := range ep.Addrs() {
					out = append(out, DNSRecord{Network: n, Name: name, IP: ip.Addr().String(), Endpoint: ep.ID})
				}
			}
		}
	}
	return out
}
