package graph

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"io"
)

// svgPainter writes SVG elements by hand: text stays text (searchable,
// selectable), numbers have one decimal, so the same picture is the same
// bytes.
type svgPainter struct {
	buf bytes.Buffer
}

func newSVG(w, h float64) *svgPainter {
	s := &svgPainter{}
	fmt.Fprintf(&s.buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%.1f" height="%.1f" viewBox="0 0 %.1f %.1f">`+"\n", w, h, w, h)
	fmt.Fprintf(&s.buf, `<rect width="100%%" height="100%%" fill="%s"/>`+"\n", hex(paper))
	fmt.Fprintf(&s.buf, `<g font-family="Liberation Sans, Arial, Helvetica, sans-serif" font-size="%.0f" stroke-width="0.8">`+"\n", fontSize)
	return s
}

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgPainter) rect(x, y, w, h float64, fill *color.RGBA, stroke color.RGBA, dashed bool) {
	f := "none"
	if fill != nil {
		f = hex(*fill)
	}
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="3 2"`
	}
	fmt.Fprintf(&s.buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s"%s/>`+"\n", x, y, w, h, f, hex(stroke), dash)
}

func (s *svgPainter) curve(x1, y1, x2, y2 float64, c color.RGBA) {
	m := (x1 + x2) / 2
	fmt.Fprintf(&s.buf, `<path d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" fill="none" stroke="%s"/>`+"\n", x1, y1, m, y1, m, y2, x2, y2, hex(c))
}

func (s *svgPainter) arrow(x, y float64, c color.RGBA) {
	fmt.Fprintf(&s.buf, `<path d="M%.1f %.1f L%.1f %.1f L%.1f %.1f Z" fill="%s"/>`+"\n", x, y, x+5, y-2.2, x+5, y+2.2, hex(c))
}

func (s *svgPainter) text(x, y float64, str string, c color.RGBA) {
	fmt.Fprintf(&s.buf, `<text x="%.1f" y="%.1f" fill="%s">`, x, y, hex(c))
	xml.EscapeText(&s.buf, []byte(str))
	s.buf.WriteString("</text>\n")
}

func (s *svgPainter) writeTo(w io.Writer) error {
	s.buf.WriteString("</g>\n</svg>\n")
	_, err := s.buf.WriteTo(w)
	return err
}
