// Package integration holds plumb's root-only tests: the plumb binary run
// against the real kernel, in throwaway network namespaces that stand in for
// the host, the targets and an "outside world", and the Docker end-to-end
// tests against a real dockerd. Every test removes what it made, even when
// it fails.
//
// The firewall behaviour tests (isolation, internal, icc, masquerade,
// published ports from everywhere, the UDP conntrack flush, Docker's FORWARD
// DROP, the localnet guard, DNAT only to the host, `network rm` restoring
// iptables-save and nft list ruleset) are tables over the firewall
// backends: one subtest per backend, named after it (eachBackend,
// newHostOn), each checking that its networks really are on that backend
// (assertBackend). `go test -run 'TestPrivilegedPorts/nftables'` runs one.
package integration
