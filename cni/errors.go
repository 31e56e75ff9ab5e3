package cni

import (
	"errors"
	"io/fs"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/plumbnet/plumb/network"
)

// toError turns err into a CNI error with the spec's code for it (see the
// package doc); an error that is one already is returned as it is, and nil
// stays a nil error (not a nil *types.Error in an error interface).
func toError(err error) error {
	if err == nil {
		return nil
	}
	var e *types.Error
	if errors.As(err, &e) {
		return e
	}
	return types.NewError(codeOf(err), err.Error(), "")
}

func codeOf(err error) uint {
	switch {
	case errors.Is(err, network.ErrCannotAdd):
		return types.ErrPluginNotAvailable
	case errors.Is(err, network.ErrLimitedConnectivity):
		return types.ErrLimitedConnectivity
	case errors.Is(err, errUnknown):
		return types.ErrUnknownContainer
	case errors.Is(err, network.ErrNetNS):
		return types.ErrInvalidNetNS
	case errors.Is(err, network.ErrExhausted), errors.Is(err, network.ErrInUse):
		return types.ErrTryAgainLater
	case errors.Is(err, network.ErrInvalid), errors.Is(err, network.ErrOverlap):
		return types.ErrInvalidNetworkConfig
	case errors.Is(err, fs.ErrPermission):
		return types.ErrIOFailure
	}
	return types.ErrInternal
}
