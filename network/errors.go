package network

import (
	"errors"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/veth"
)

// Errors callers branch on. Each is wrapped with the value it is about.
// network translates the leaves' errors into these: a caller never needs
// to know which leaf failed.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrInvalid       = errors.New("invalid")
	ErrInUse         = errors.New("in use")
	ErrOverlap       = errors.New("overlaps")
	ErrNotAttached   = errors.New("not attached")
	ErrAlreadyAttach = errors.New("already attached")
	// ErrExhausted: the network has no free address, or its bridge no free
	// port; an attach may succeed later.
	ErrExhausted = errors.New("exhausted")
	// ErrNetNS marks a namespace that cannot be attached: missing, not a
	// network namespace, or plumb's own.
	ErrNetNS = errors.New("unusable network namespace")
	// ErrCannotAdd: no attach to the network can succeed now (Status).
	ErrCannotAdd = errors.New("cannot take new attachments")
	// ErrLimitedConnectivity: and the endpoints there already may be cut
	// off too (Status).
	ErrLimitedConnectivity = errors.New("attachments may have limited connectivity")
)

// kinded is a leaf's error that also matches one of network's: its text
// is the leaf's, errors.Is sees both.
type kinded struct {
	err  error
	kind error
}

func (e *kinded) Error() string   { return e.err.Error() }
func (e *kinded) Unwrap() []error { return []error{e.err, e.kind} }

// as marks err as kind (ErrInvalid, ErrInUse, ...) keeping its text; nil
// stays nil.
func as(kind, err error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return &kinded{err: err, kind: kind}
}

// ipamError translates the allocator's errors.
func ipamError(err error) error {
	switch {
	case errors.Is(err, ipam.ErrExhausted):
		return as(ErrExhausted, err)
	case errors.Is(err, ipam.ErrTaken):
		return as(ErrInUse, err)
	case errors.Is(err, ipam.ErrOutOfRange):
		return as(ErrInvalid, err)
	}
	return err
}

// linkError translates the link leaves' errors.
func linkError(err error) error {
	switch {
	case errors.Is(err, veth.ErrBridgeFull):
		return as(ErrExhausted, err)
	case errors.Is(err, bridge.ErrNotBridge):
		return as(ErrExists, err)
	}
	return err
}
