// Package doctor is `plumb doctor`: it compares what plumb means the host
// to be (the state directory: networks, endpoints, published ports) with
// what the kernel and the host hold (links, addresses, routes, rules, the
// daemon's listeners and held ports, the targets' files, the sandboxes'
// holder containers as dockerd lists them), and what on the host stands in
// plumb's way (a FORWARD policy DROP with plumb's jump missing, a foreign
// rule above it, ip_forward off, ...). Each finding says
// what is wrong, what it means, and what --fix does, or the command a
// person must run when what is wrong is not plumb's to change.
//
// Examine changes nothing. Fix repairs the findings plumb owns, each with
// a repair that is safe to repeat. The daemon's reconciler (a later issue)
// repairs the same drift by itself.
package doctor
