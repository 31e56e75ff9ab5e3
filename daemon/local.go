package daemon

import (
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/portmap"
)

// local is the daemon as network.Daemon for its own Manager: the repairs
// the daemon makes (restoring a network, attaching an endpoint again) ask
// it to serve names and hold ports in-process, through the same handler
// its socket answers with, instead of dialling itself.
type local struct{ d *daemon }

func (l local) do(req control.Request) (control.Reply, error) {
	rep := l.d.handle(req)
	if rep.Error != "" {
		return rep, &control.ReplyError{Msg: rep.Error, Code: rep.Code}
	}
	return rep, nil
}

func (l local) Start() error { return nil }

func (l local) Up(network, id string) error {
	_, err := l.do(control.Request{Op: control.OpUp, Network: network, Endpoint: id})
	return err
}

func (l local) Down(network, id string) error {
	_, err := l.do(control.Request{Op: control.OpDown, Network: network, Endpoint: id})
	return err
}

func (l local) Reap(r control.Reap) error {
	_, err := l.do(control.Request{Op: control.OpReap, Reap: &r})
	return err
}

func (l local) Hold(network, id string, reqs []portmap.Request) ([]portmap.Mapping, error) {
	rep, err := l.do(control.Request{Op: control.OpHold, Network: network, Endpoint: id, Ports: reqs})
	if err != nil {
		return nil, err
	}
	return rep.Ports, nil
}

func (l local) Release(network, id string) error {
	_, err := l.do(control.Request{Op: control.OpRelease, Network: network, Endpoint: id})
	return err
}

// Sync is deferred: the reconciler makes the daemon serve the state
// directory once, at the end of its pass, however many networks it
// restored (each restore asks for it).
func (l local) Sync() error {
	l.d.syncDue.Store(true)
	return nil
}

func (l local) Records(network string) ([]control.Record, error) {
	rep, err := l.do(control.Request{Op: control.OpRecords, Network: network})
	return rep.Records, err
}

func (l local) Listeners() (control.Listening, error) {
	rep, err := l.do(control.Request{Op: control.OpListeners})
	return control.ListeningOf(&rep), err
}

func (l local) Remotes(network string) error {
	_, err := l.do(control.Request{Op: control.OpRemotes, Network: network})
	return err
}
