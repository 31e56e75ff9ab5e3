// Package graph draws the host's plumb topology for a person: its networks
// (bridge, subnet, gateway, the name service on the gateway), their
// endpoints (name, interface, address, MAC, aliases, the 127.0.0.11
// listener) and the host ports published to them, and the lines between.
//
// Load reads the model from network.Manager's state and the daemon's
// listeners; Text, Dot and Draw render it. Every rendering is a pure
// function of the Topology, in sorted order, so that the same state gives
// the same bytes. svg and png come from Graphviz's dot when it is
// installed (the layout of the Dot output), else from Draw, a layout of
// plumb's own: the svg written as text, the png rasterised with
// golang.org/x/image/vector and one embedded font.
//
// No part of it changes anything: `plumb graph` is a read.
package graph
