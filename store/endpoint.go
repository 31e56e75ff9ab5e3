package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Endpoint is one attachment to an overlay network, on some host: what
// the other hosts program (FDB: MAC -> the host's VTEP; neighbour: IP ->
// MAC) and what their DNS answers (Names -> IP).
type Endpoint struct {
	Network string       `json:"network"`
	ID      string       `json:"id"`
	Host    string       `json:"host"`
	IP      netip.Prefix `json:"ip"` // address/subnet bits, 10.20.0.7/24
	MAC     string       `json:"mac"`
	Names   []string     `json:"names,omitempty"`
}

// check returns an ErrInvalid error naming the first bad field of e.
func (e Endpoint) check() error {
	if err := checkName("network", e.Network); err != nil {
		return err
	}
	if err := checkName("endpoint", e.ID); err != nil {
		return err
	}
	if err := checkName("host", e.Host); err != nil {
		return err
	}
	if !e.IP.IsValid() {
		return fmt.Errorf("endpoint %q: %w address %q", e.ID, ErrInvalid, e.IP)
	}
	if hw, err := net.ParseMAC(e.MAC); err != nil || len(hw) != 6 {
		return fmt.Errorf("endpoint %q: %w MAC %q", e.ID, ErrInvalid, e.MAC)
	}
	return nil
}

// PutEndpoint records (or replaces) e under endpoints/<net>/<id>, in a
// transaction that fails with ErrNotFound when the network is gone. The
// record has no lease (see the package doc).
func (s *Store) PutEndpoint(ctx context.Context, e Endpoint) error {
	if err := e.check(); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	resp, err := s.cli.Txn(ctx).
		If(exists(networkKey(e.Network))).
		Then(clientv3.OpPut(endpointKey(e.Network, e.ID), string(b))).
		Commit()
	if err != nil {
		return s.wrap(err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("endpoint %q: network %q %w", e.ID, e.Network, ErrNotFound)
	}
	return nil
}

// DeleteEndpoint removes the endpoint id of network; removing one that is
// not there is not an error.
func (s *Store) DeleteEndpoint(ctx context.Context, network, id string) error {
	if err := checkName("network", network); err != nil {
		return err
	}
	if err := checkName("endpoint", id); err != nil {
		return err
	}
	_, err := s.cli.Delete(ctx, endpointKey(network, id))
	return s.wrap(err)
}

// Endpoints returns the endpoints of network on every host, sorted by id.
func (s *Store) Endpoints(ctx context.Context, network string) ([]Endpoint, error) {
	if err := checkName("network", network); err != nil {
		return nil, err
	}
	resp, err := s.cli.Get(ctx, endpointsPrefix(network), clientv3.WithPrefix())
	if err != nil {
		return nil, s.wrap(err)
	}
	var out []Endpoint
	for _, kv := range resp.Kvs {
		var e Endpoint
		if json.Unmarshal(kv.Value, &e) == nil {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
