package graph

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// pngPainter rasterizes with golang.org/x/image/vector (antialiased) and
// draws text with the opentype face, at scale pixels per point.
type pngPainter struct {
	img   *image.RGBA
	scale float64
	face  font.Face
}

func newPNG(w, h, scale float64, face font.Face) *pngPainter {
	img := image.NewRGBA(image.Rect(0, 0, int(math.Ceil(w*scale)), int(math.Ceil(h*scale))))
	draw.Draw(img, img.Bounds(), image.NewUniform(paper), image.Point{}, draw.Src)
	return &pngPainter{img: img, scale: scale, face: face}
}

// fill paints the polygon pts (points, y down) in c.
func (p *pngPainter) fill(pts [][2]float64, c color.RGBA) {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range pts {
		minX, minY = min(minX, q[0]*p.scale), min(minY, q[1]*p.scale)
		maxX, maxY = max(maxX, q[0]*p.scale), max(maxY, q[1]*p.scale)
	}
	x0, y0 := int(math.Floor(minX)), int(math.Floor(minY))
	r := image.Rect(x0, y0, int(math.Ceil(maxX))+1, int(math.Ceil(maxY))+1)
	z := vector.NewRasterizer(r.Dx(), r.Dy())
	for i, q := range pts {
		x, y := float32(q[0]*p.scale-float64(x0)), float32(q[1]*p.scale-float64(y0))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
	z.Draw(p.img, r, image.NewUniform(c), image.Point{})
}

// line strokes the polyline pts with width lw points, a few segments at a
// time: the rasterizer's cost is the area of what it fills' bounding box,
// and one long curve across a tall picture is a tall box.
func (p *pngPainter) line(pts [][2]float64, lw float64, c color.RGBA) {
	const chunk = 4
	for i := 0; i+1 < len(pts); i += chunk {
		p.segment(pts[i:min(i+chunk+1, len(pts))], lw, c)
	}
}

// segment strokes a short polyline as one polygon.
func (p *pngPainter) segment(pts [][2]float64, lw float64, c color.RGBA) {
	left := make([][2]float64, len(pts))
	right := make([][2]float64, len(pts))
	for i := range pts {
		a, b := pts[max(i-1, 0)], pts[min(i+1, len(pts)-1)]
		dx, dy := b[0]-a[0], b[1]-a[1]
		l := math.Hypot(dx, dy)
		if l == 0 {
			l = 1
		}
		nx, ny := -dy/l*lw/2, dx/l*lw/2
		left[i] = [2]float64{pts[i][0] + nx, pts[i][1] + ny}
		right[len(pts)-1-i] = [2]float64{pts[i][0] - nx, pts[i][1] - ny}
	}
	p.fill(append(left, right...), c)
}

func (p *pngPainter) rect(x, y, w, h float64, fill *color.RGBA, stroke color.RGBA, dashed bool) {
	if fill != nil {
		p.fill([][2]float64{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}, *fill)
	}
	corners := [][2]float64{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}, {x, y}}
	for i := range 4 {
		a, b := corners[i], corners[i+1]
		if !dashed {
			p.line([][2]float64{a, b}, 0.8, stroke)
			continue
		}
		n := math.Hypot(b[0]-a[0], b[1]-a[1]) / 5
		for k := 0.0; k < n; k++ {
			t0, t1 := k/n, min((k+0.6)/n, 1)
			p.line([][2]float64{lerp(a, b, t0), lerp(a, b, t1)}, 0.8, stroke)
		}
	}
}

func lerp(a, b [2]float64, t float64) [2]float64 {
	return [2]float64{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t}
}

func (p *pngPainter) curve(x1, y1, x2, y2 float64, c color.RGBA) {
	m := (x1 + x2) / 2
	const steps = 32
	pts := make([][2]float64, 0, steps+1)
	for i := range steps + 1 {
		t := float64(i) / steps
		u := 1 - t
		x := u*u*u*x1 + 3*u*u*t*m + 3*u*t*t*m + t*t*t*x2
		y := u*u*u*y1 + 3*u*u*t*y1 + 3*u*t*t*y2 + t*t*t*y2
		pts = append(pts, [2]float64{x, y})
	}
	p.line(pts, 0.9, c)
}

func (p *pngPainter) arrow(x, y float64, c color.RGBA) {
	p.fill([][2]float64{{x, y}, {x + 5, y - 2.2}, {x + 5, y + 2.2}}, c)
}

func (p *pngPainter) text(x, y float64, s string, c color.RGBA) {
	d := font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: p.face,
		Dot: fixed.Point26_6{X: fixed.Int26_6(x * p.scale * 64), Y: fixed.Int26_6(y * p.scale * 64)}}
	d.DrawString(s)
}

func (p *pngPainter) writeTo(w io.Writer) error {
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, p.img)
}
