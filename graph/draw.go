package graph

import (
	"fmt"
	"image/color"
	"io"
	"sync"

	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

var (
	ink     = color.RGBA{0x24, 0x29, 0x2f, 0xff}
	grey    = color.RGBA{0x8b, 0x94, 0x9e, 0xff}
	blue    = color.RGBA{0x1f, 0x6f, 0xeb, 0xff}
	paper   = color.RGBA{0xff, 0xff, 0xff, 0xff}
	fills   = map[boxKind]color.RGBA{kindHost: {0xff, 0xf5, 0xd6, 0xff}, kindBridge: {0xee, 0xf2, 0xf7, 0xff}, kindEndpoint: paper, kindStale: paper, kindPort: {0xe8, 0xf1, 0xfe, 0xff}}
	strokes = map[boxKind]color.RGBA{kindHost: ink, kindBridge: ink, kindEndpoint: ink, kindStale: grey, kindPort: blue}
)

// painter is what a picture is drawn on: svg or png. Coordinates are
// points, y down.
type painter interface {
	rect(x, y, w, h float64, fill *color.RGBA, stroke color.RGBA, dashed bool)
	// curve is the S-shaped cubic from (x1, y1) to (x2, y2), its control
	// points halfway across at each end's height.
	curve(x1, y1, x2, y2 float64, c color.RGBA)
	// arrow is a small triangle pointing left with its tip at (x, y).
	arrow(x, y float64, c color.RGBA)
	// text writes s with its baseline at y.
	text(x, y float64, s string, c color.RGBA)
}

var (
	sansOnce sync.Once
	sans     *sfnt.Font
	sansErr  error
)

// newFace is Liberation Sans (shipped inside the binary: no font needs to
// be installed; metric-compatible with Arial, which an svg viewer may use
// instead) at the drawing's size and dpi.
func newFace(dpi float64) (font.Face, error) {
	sansOnce.Do(func() { sans, sansErr = opentype.Parse(liberationsansregular.TTF) })
	if sansErr != nil {
		return nil, fmt.Errorf("the embedded font: %w", sansErr)
	}
	return opentype.NewFace(sans, &opentype.FaceOptions{Size: fontSize, DPI: dpi, Hinting: font.HintingNone})
}

// maxPixels is the most a png is drawn with at 144 dpi.
const maxPixels = 16 << 20

// Draw writes t as an svg or png picture of plumb's own layout (see
// layOut), in-process: no Graphviz needed. The png is at 144 dpi, or 72
// when that would be more than maxPixels.
func Draw(w io.Writer, t *Topology, format string) error {
	if format != "svg" && format != "png" {
		return fmt.Errorf("drawing %q: want svg or png", format)
	}
	f, err := newFace(72)
	if err != nil {
		return err
	}
	p := layOut(func(s string) float64 { return float64(font.MeasureString(f, s)) / 64 }, t)
	if format == "svg" {
		s := newSVG(p.w, p.h)
		p.draw(s)
		return s.writeTo(w)
	}
	scale := 2.0
	if p.w*p.h*scale*scale > maxPixels {
		scale = 1 // a large topology: 72 dpi, a quarter of the pixels
	}
	big, err := newFace(72 * scale)
	if err != nil {
		return err
	}
	img := newPNG(p.w, p.h, scale, big)
	p.draw(img)
	return img.writeTo(w)
}

// draw paints p: frames, then edges, then boxes over them.
func (p *picture) draw(c painter) {
	for _, fr := range p.frames {
		c.rect(fr.x, fr.y, fr.w, fr.h, nil, grey, true)
		c.text(fr.x+6, fr.y+frameHead-4, fr.title, ink)
	}
	for _, e := range p.edges {
		a, b := p.boxes[e.from], p.boxes[e.to]
		x1, y1 := a.x+a.w, a.y+a.h/2
		if !e.arrow {
			c.curve(x1, y1, b.x, b.y+b.h/2, grey)
			continue
		}
		// A published port: blue, the arrow at the endpoint it reaches.
		c.curve(x1+4, y1, b.x, b.y+b.h/2, blue)
		c.arrow(x1, y1, blue)
	}
	for _, b := range p.boxes {
		fill := fills[b.kind]
		c.rect(b.x, b.y, b.w, b.h, &fill, strokes[b.kind], b.kind == kindStale)
		for i, l := range b.lines {
			col := strokes[b.kind]
			if i > 0 && b.kind != kindPort {
				col = grey
			}
			c.text(b.x+pad, b.y+pad+float64(i+1)*lineH-2.5, l, col)
		}
	}
}
