package graph

import (
	"fmt"
	"image/color"
	"io"
	"sync"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

var (
	ink      = color.RGBA{0x24, 0x29, 0x2f, 0xff}
	grey     = color.RGBA{0x8b, 0x94, 0x9e, 0xff}
	blue     = color.RGBA{0x1f, 0x6f, 0xeb, 0xff}
	paper    = color.RGBA{0xff, 0xff, 0xff, 0xff}
	fills    = map[boxKind]color.Color{kindHost: color.RGBA{0xff, 0xf5, 0xd6, 0xff}, kindBridge: color.RGBA{0xee, 0xf2, 0xf7, 0xff}, kindEndpoint: paper, kindStale: paper, kindPort: color.RGBA{0xe8, 0xf1, 0xfe, 0xff}}
	strokes  = map[boxKind]color.Color{kindHost: ink, kindBridge: ink, kindEndpoint: ink, kindStale: grey, kindPort: blue}
	fontOnce sync.Once
	fonts    *font.Cache
)

// face is the built-in drawing's font: Liberation Sans, shipped inside the
// binary (no font needs to be installed).
func face() font.Face {
	fontOnce.Do(func() { fonts = font.NewCache(liberation.Collection()) })
	return fonts.Lookup(font.Font{Typeface: "Liberation", Variant: "Sans"}, fontSize)
}

// Draw writes t as an svg or png picture of plumb's own layout (see
// layOut), in-process: no Graphviz needed. The png is at 144 dpi.
func Draw(w io.Writer, t *Topology, format string) error {
	f := face()
	p := layOut(f, t)
	var c interface {
		vg.Canvas
		io.WriterTo
	}
	switch format {
	case "svg":
		c = vgsvg.NewWith(vgsvg.UseWH(p.w, p.h))
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(p.w, p.h), vgimg.UseDPI(144), vgimg.UseBackgroundColor(paper))}
	default:
		return fmt.Errorf("drawing %q: want svg or png", format)
	}
	p.draw(c, f)
	_, err := c.WriteTo(w)
	return err
}

// draw paints p: frames, then edges, then boxes over them.
func (p *picture) draw(c vg.Canvas, f font.Face) {
	c.SetLineWidth(0.8)
	for _, fr := range p.frames {
		c.SetColor(grey)
		c.SetLineDash([]vg.Length{3, 2}, 0)
		c.Stroke(p.rect(fr.x, fr.y, fr.w, fr.h))
		c.SetLineDash(nil, 0)
		c.SetColor(ink)
		c.FillString(f, p.pt(fr.x+6, fr.y+frameHead-4), fr.title)
	}
	for _, e := range p.edges {
		p.drawEdge(c, e)
	}
	for _, b := range p.boxes {
		p.drawBox(c, f, b)
	}
}

// pt turns a top-down point into vg's bottom-up one.
func (p *picture) pt(x, y vg.Length) vg.Point { return vg.Point{X: x, Y: p.h - y} }

func (p *picture) rect(x, y, w, h vg.Length) vg.Path {
	var path vg.Path
	path.Move(p.pt(x, y))
	path.Line(p.pt(x+w, y))
	path.Line(p.pt(x+w, y+h))
	path.Line(p.pt(x, y+h))
	path.Close()
	return path
}

// drawBox paints one node: its fill, its border, its lines of text.
func (p *picture) drawBox(c vg.Canvas, f font.Face, b box) {
	c.SetColor(fills[b.kind])
	c.Fill(p.rect(b.x, b.y, b.w, b.h))
	c.SetColor(strokes[b.kind])
	if b.kind == kindStale {
		c.SetLineDash([]vg.Length{2, 2}, 0)
	}
	c.Stroke(p.rect(b.x, b.y, b.w, b.h))
	c.SetLineDash(nil, 0)
	for i, l := range b.lines {
		if i > 0 && b.kind != kindPort {
			c.SetColor(grey)
		}
		c.FillString(f, p.pt(b.x+pad, b.y+pad+vg.Length(i+1)*lineH-2.5), l)
		c.SetColor(strokes[b.kind])
	}
}

// drawEdge joins two boxes, from's right side to to's left side; a port's
// edge is blue with an arrowhead at its endpoint.
func (p *picture) drawEdge(c vg.Canvas, e edge) {
	a, b := p.boxes[e.from], p.boxes[e.to]
	x1, y1 := a.x+a.w, a.y+a.h/2
	x2, y2 := b.x, b.y+b.h/2
	if e.arrow {
		c.SetColor(blue)
	} else {
		c.SetColor(grey)
	}
	var path vg.Path
	path.Move(p.pt(x1, y1))
	mid := (x1 + x2) / 2
	path.CubeTo(p.pt(mid, y1), p.pt(mid, y2), p.pt(x2, y2))
	c.Stroke(path)
	if e.arrow {
		p.arrowHead(c, x1, y1)
	}
}

// arrowHead is a small filled triangle pointing left at (x, y).
func (p *picture) arrowHead(c vg.Canvas, x, y vg.Length) {
	const size, half = vg.Length(5), vg.Length(2.2)
	var path vg.Path
	path.Move(p.pt(x, y))
	path.Line(p.pt(x+size, y-half))
	path.Line(p.pt(x+size, y+half))
	path.Close()
	c.Fill(path)
}
