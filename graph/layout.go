package graph

// The built-in layout: four columns, left to right, the host, each
// network's bridge, its endpoints, and the host ports published to them;
// networks stacked top to bottom, each in a frame around its bridge and
// endpoints. Every position is a pure function of the Topology and the
// font, so the same state draws the same picture. Lengths are points,
// y grows downwards, as in SVG.

// measurer is the width of a line of text, in points.
type measurer func(string) float64

const (
	fontSize  = 9.0
	lineH     = 11.0
	pad       = 5.0  // inside a box, around its text
	gapY      = 8.0  // between two endpoints
	gapNet    = 18.0 // between two network frames
	gapCol    = 46.0 // between two columns
	framePad  = 10.0 // inside a network's frame
	frameHead = 16.0 // the frame's title line
	margin    = 12.0
)

type boxKind int

const (
	kindHost boxKind = iota
	kindBridge
	kindEndpoint
	kindStale
	kindPort
)

// box is one node: its text and its place.
type box struct {
	kind       boxKind
	x, y, w, h float64
	lines      []string
}

// edge joins the right side of box from to the left side of box to (a
// port points at its endpoint: arrow at from's end).
type edge struct {
	from, to int
	arrow    bool
}

// frame is a network's frame and title.
type frame struct {
	x, y, w, h float64
	title      string
}

// picture is a laid-out topology.
type picture struct {
	w, h   float64
	boxes  []box
	edges  []edge
	frames []frame
}

// measure sizes a box for its lines in face.
func measure(face measurer, kind boxKind, lines []string) box {
	b := box{kind: kind, lines: lines, h: float64(len(lines))*lineH + 2*pad}
	for _, l := range lines {
		b.w = max(b.w, face(l)+2*pad)
	}
	return b
}

// layOut places t's nodes in the four columns.
func layOut(face measurer, t *Topology) *picture {
	p := &picture{}
	host := measure(face, kindHost, []string{"host"})
	p.boxes = append(p.boxes, host)
	bridges, eps, ports := columnWidths(face, t)
	xBridge := margin + host.w + gapCol
	xEp := xBridge + framePad + bridges + gapCol
	xPort := xEp + eps + framePad + gapCol
	y := margin
	for _, n := range t.Networks {
		y = p.addNetwork(face, n, y, xBridge, xEp, xPort, eps) + gapNet
	}
	p.h = max(y-gapNet+margin, margin*2+host.h)
	p.w = xPort + ports + margin
	if ports == 0 {
		p.w = xEp + eps + framePad + margin
	}
	p.boxes[0].x, p.boxes[0].y = margin, (p.h-host.h)/2
	return p
}

// columnWidths are the widest bridge, endpoint and port boxes.
func columnWidths(face measurer, t *Topology) (bridges, eps, ports float64) {
	for _, n := range t.Networks {
		bridges = max(bridges, measure(face, kindBridge, bridgeLines(n)).w)
		for _, ep := range n.Endpoints {
			eps = max(eps, measure(face, kindEndpoint, endpointLines(ep)).w)
			for _, pm := range ep.Ports {
				ports = max(ports, measure(face, kindPort, []string{pm.String()}).w)
			}
		}
	}
	return bridges, max(eps, 60), ports
}

// addNetwork places network n's frame from y down, and returns its bottom.
func (p *picture) addNetwork(face measurer, n Network, y, xBridge, xEp, xPort, epW float64) float64 {
	top := y
	y += frameHead + framePad
	first := len(p.boxes) + 1
	bi := len(p.boxes)
	p.boxes = append(p.boxes, measure(face, kindBridge, bridgeLines(n)))
	for _, ep := range n.Endpoints {
		kind := kindEndpoint
		if ep.Stale {
			kind = kindStale
		}
		b := measure(face, kind, endpointLines(ep))
		b.x, b.y = xEp, y
		ei := len(p.boxes)
		p.boxes = append(p.boxes, b)
		p.edges = append(p.edges, edge{from: bi, to: ei})
		p.addPorts(face, ep, ei, xPort)
		y += max(b.h, portsHeight(len(ep.Ports))) + gapY
	}
	if len(n.Endpoints) == 0 {
		y += p.boxes[bi].h + gapY
	}
	bottom := y - gapY + framePad
	br := &p.boxes[bi]
	br.x, br.y = xBridge+framePad, top+frameHead+(bottom-top-frameHead-br.h)/2
	if len(n.Endpoints) > 0 {
		br.y = max(br.y, p.boxes[first].y)
	}
	p.edges = append(p.edges, edge{from: 0, to: bi})
	title := n.Name + "  " + n.Subnets()
	if n.Internal {
		title += "  internal"
	}
	p.frames = append(p.frames, frame{x: xBridge, y: top, w: xEp + epW + framePad - xBridge, h: bottom - top, title: title})
	return bottom
}

// portsHeight is the height of n stacked port boxes.
func portsHeight(n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(n)*(lineH+2*pad) + float64(n-1)*2
}

// addPorts places the port boxes of endpoint ep (box ei) beside it.
func (p *picture) addPorts(face measurer, ep Endpoint, ei int, xPort float64) {
	y := p.boxes[ei].y
	for _, pm := range ep.Ports {
		b := measure(face, kindPort, []string{pm.String()})
		b.x, b.y = xPort, y
		p.edges = append(p.edges, edge{from: ei, to: len(p.boxes), arrow: true})
		p.boxes = append(p.boxes, b)
		y += b.h + 2
	}
}
