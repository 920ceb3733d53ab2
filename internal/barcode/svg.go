package barcode

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// SVG draws the symbol as an SVG document: the viewBox in modules, the
// width and height scale CSS pixels a module, a white background (the
// quiet zones), one rect per bar of a linear code or one path of the QR
// matrix's dark runs, and the text under a linear code in the viewer's
// monospace face.
func (s *Symbol) SVG(scale int) []byte {
	scale = min(max(scale, MinScale), MaxScale)
	l := &s.lay
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`,
		l.w*scale, l.h*scale, l.w, l.h)
	fmt.Fprintf(&b, "<title>%s</title>", escape(string(s.Type)+" "+s.Content))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, l.w, l.h)
	if l.linear {
		b.WriteString(`<g fill="#000">`)
		for _, r := range l.rects {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d"/>`, r.x, r.y, r.w, r.h)
		}
		b.WriteString(`</g>`)
	} else {
		b.WriteString(`<path fill="#000" d="`)
		for _, r := range l.rects {
			fmt.Fprintf(&b, "M%d %dh%dv%dh-%dz", r.x, r.y, r.w, r.h, r.w)
		}
		b.WriteString(`"/>`)
	}
	if len(l.labels) > 0 {
		// A monospace face 11 modules high is about 6.6 modules wide a
		// character: each label sits centred on its 7-module cells.
		b.WriteString(`<g font-family="monospace" font-size="11" text-anchor="middle" fill="#000">`)
		for _, lb := range l.labels {
			cx := float64(lb.x) + float64(glyphW*len(lb.text))/2
			fmt.Fprintf(&b, `<text x="%s" y="%d">%s</text>`, num(cx), lb.y+glyphBase, escape(lb.text))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// num prints a half-integer without trailing zeros.
func num(v float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
