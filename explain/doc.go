// Package explain tells a person why SRC reaches DST or not: the path a
// packet takes as plumb built the host, step by step, each with the
// command that shows the same thing, and a verdict (reachable, blocked,
// no listener, no route).
//
// It is a view, like package doctor: it reads plumb's own model (package
// network: networks, endpoints, published ports), the rules plumb renders
// from it (firewall/iptables) and checks each deciding rule is really in
// the kernel, and it asks the kernel only what the model cannot know: the
// route inside SRC and the listeners at DST (package nsview). Without a
// probe it changes nothing on the host. With one (Probe) it sends one real
// connection from inside SRC and says whether reality agrees.
package explain
