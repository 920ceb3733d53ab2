package barcode

import bc "github.com/boombuler/barcode"

// A layout places a symbol on its image, in modules: the dark rectangles
// and the human-readable text. PNG and SVG both draw from it.
type layout struct {
	w, h           int
	quietL, quietR int
	rects          []rect
	labels         []label
	// linear marks a linear code: each rectangle is one bar.
	linear bool
}

// rect is a dark rectangle, in modules.
type rect struct{ x, y, w, h int }

// label is text whose character cells (glyphW × glyphH modules each)
// start at x, y.
type label struct {
	x, y int
	text string
}

// The text cell, in modules: the PNG draws basicfont's 7×13 face at one
// pixel a module, and an EAN-13 digit is 7 modules wide.
const (
	glyphW = 7
	glyphH = 13
	// glyphBase is the baseline's distance from the cell's top.
	glyphBase = 11
)

// The vertical layout of the linear codes, in modules.
const (
	marginTop    = 4  // light space above the bars
	marginBottom = 2  // below the text
	eanBarH      = 60 // EAN-13's bars …
	eanGuardExt  = 6  // … and how much lower its guard bars reach
	code128BarH  = 50 // Code 128's shortest bars; longer symbols get 15 % of their length
)

// Quiet zones, in modules, per symbology.
const (
	eanQuietL     = 11
	eanQuietR     = 7
	code128Quiet  = 10
	qrQuiet       = 4
	eanLeftDigits = eanQuietL + 3      // the first of the six left digits' cells: after the start guard
	eanRightStart = eanQuietL + 3 + 47 // … and of the right digits: after the centre guard
)

// eanGuard reports whether module x of the 95 is part of a guard pattern
// (start, centre, end), whose bars reach below the others.
func eanGuard(x int) bool { return x < 3 || x >= 45 && x < 50 || x >= 92 }

// eanLayout: the first digit in the left quiet zone, six digits under each
// half, the guard bars reaching down between them.
func eanLayout(bars []bool, content string) layout {
	l := layout{w: eanQuietL + len(bars) + eanQuietR, quietL: eanQuietL, quietR: eanQuietR, linear: true}
	textY := marginTop + eanBarH + 1
	l.h = textY + glyphH + marginBottom
	for _, r := range runs(bars) {
		h := eanBarH
		if eanGuard(r.x) {
			h += eanGuardExt
		}
		l.rects = append(l.rects, rect{x: eanQuietL + r.x, y: marginTop, w: r.w, h: h})
	}
	l.labels = append(l.labels, label{x: eanQuietL - glyphW - 1, y: textY, text: content[:1]})
	for i := range 12 {
		x := eanLeftDigits + glyphW*i
		if i >= 6 {
			x = eanRightStart + glyphW*(i-6)
		}
		l.labels = append(l.labels, label{x: x, y: textY, text: content[1+i : 2+i]})
	}
	return l
}

// code128Layout: the bars centred with their quiet zones, the number
// centred under them; the image widens when the text is wider.
func code128Layout(bars []bool, text string) layout {
	tw := glyphW * len(text)
	w := max(len(bars)+2*code128Quiet, tw+2)
	x0 := (w - len(bars)) / 2
	barH := max(code128BarH, (len(bars)*15+99)/100)
	textY := marginTop + barH + 2
	l := layout{w: w, h: textY + glyphH + marginBottom, quietL: x0, quietR: w - x0 - len(bars), linear: true}
	for _, r := range runs(bars) {
		l.rects = append(l.rects, rect{x: x0 + r.x, y: marginTop, w: r.w, h: barH})
	}
	l.labels = []label{{x: (w - tw) / 2, y: textY, text: text}}
	return l
}

// qrLayout: the matrix inside its quiet zone, a rectangle per run of dark
// modules in a row.
func qrLayout(code bc.Barcode) layout {
	b := code.Bounds()
	n := b.Dx()
	l := layout{w: n + 2*qrQuiet, h: n + 2*qrQuiet, quietL: qrQuiet, quietR: qrQuiet}
	row := make([]bool, n)
	for y := range n {
		for x := range n {
			row[x] = dark(code.At(b.Min.X+x, b.Min.Y+y))
		}
		for _, r := range runs(row) {
			l.rects = append(l.rects, rect{x: qrQuiet + r.x, y: qrQuiet + y, w: r.w, h: 1})
		}
	}
	return l
}

// span is a run of dark modules.
type span struct{ x, w int }

// runs returns the runs of true in m.
func runs(m []bool) []span {
	var out []span
	for x := 0; x < len(m); {
		if !m[x] {
			x++
			continue
		}
		start := x
		for x < len(m) && m[x] {
			x++
		}
		out = append(out, span{start, x - start})
	}
	return out
}
