package barcode

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// svgDoc is the part of our SVG the tests read.
type svgDoc struct {
	XMLName        xml.Name  `xml:"http://www.w3.org/2000/svg svg"`
	Width          int       `xml:"width,attr"`
	Height         int       `xml:"height,attr"`
	ViewBox        string    `xml:"viewBox,attr"`
	ShapeRendering string    `xml:"shape-rendering,attr"`
	Title          string    `xml:"title"`
	Background     []svgRect `xml:"rect"`
	Groups         []struct {
		Fill  string    `xml:"fill,attr"`
		Rects []svgRect `xml:"rect"`
		Texts []struct {
			X    float64 `xml:"x,attr"`
			Y    float64 `xml:"y,attr"`
			Text string  `xml:",chardata"`
		} `xml:"text"`
	} `xml:"g"`
	Paths []struct {
		D string `xml:"d,attr"`
	} `xml:"path"`
}

type svgRect struct {
	X      int    `xml:"x,attr"`
	Y      int    `xml:"y,attr"`
	Width  int    `xml:"width,attr"`
	Height int    `xml:"height,attr"`
	Fill   string `xml:"fill,attr"`
}

// parseSVG checks that b is one well-formed XML document and reads it.
func parseSVG(t *testing.T, b []byte) *svgDoc {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, b)
		}
	}
	var d svgDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("read the SVG: %v\n%s", err, b)
	}
	return &d
}

// bars returns the rects of the black group: the bars of a linear code.
func (d *svgDoc) bars() []svgRect {
	for _, g := range d.Groups {
		if g.Fill == "#000" && len(g.Rects) > 0 {
			return g.Rects
		}
	}
	return nil
}

// text joins the text elements.
func (d *svgDoc) text() string {
	var b strings.Builder
	for _, g := range d.Groups {
		for _, tx := range g.Texts {
			b.WriteString(tx.Text)
		}
	}
	return b.String()
}

var pathRun = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v(\d+)h-(\d+)z`)

// raster draws the document's background, bars and path (not the text)
// at scale pixels a module, for the decoder.
func (d *svgDoc) raster(t *testing.T, scale int) image.Image {
	t.Helper()
	var w, h int
	if _, err := fmt.Sscanf(d.ViewBox, "0 0 %d %d", &w, &h); err != nil {
		t.Fatalf("viewBox %q: %v", d.ViewBox, err)
	}
	img := image.NewGray(image.Rect(0, 0, w*scale, h*scale))
	fill := func(r svgRect, c uint8) {
		for y := r.Y * scale; y < (r.Y+r.Height)*scale; y++ {
			for x := r.X * scale; x < (r.X+r.Width)*scale; x++ {
				img.SetGray(x, y, color.Gray{Y: c})
			}
		}
	}
	for _, r := range d.Background {
		if r.Fill != "#fff" {
			t.Fatalf("background rect fill %q, want #fff", r.Fill)
		}
		fill(r, 0xff)
	}
	for _, r := range d.bars() {
		fill(r, 0)
	}
	for _, p := range d.Paths {
		rest := pathRun.ReplaceAllStringFunc(p.D, func(m string) string {
			v := pathRun.FindStringSubmatch(m)
			n := make([]int, 5)
			for i := range n {
				n[i], _ = strconv.Atoi(v[i+1])
			}
			if n[2] != n[4] {
				t.Fatalf("path run %s does not close", m)
			}
			fill(svgRect{X: n[0], Y: n[1], Width: n[2], Height: n[3]}, 0)
			return ""
		})
		if rest != "" {
			t.Fatalf("path has commands the test cannot read: %q", rest)
		}
	}
	return img
}

// decodeImage reads the symbol in img with gozxing, an independent
// decoder (a port of ZXing), and returns its text.
func decodeImage(t *testing.T, typ Type, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var r gozxing.Reader
	switch typ {
	case EAN13:
		r = oned.NewEAN13Reader()
	case Code128:
		r = oned.NewCode128Reader()
	case QR:
		r = qrcode.NewQRCodeReader()
	}
	res, err := r.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Errorf("decode %s: %v", typ, err)
		return ""
	}
	return res.GetText()
}

func TestSVG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    Type
		number string
		scale  int
		bars   int    // rects in the bar group (0 for QR)
		text   string // the human-readable line
	}{
		// EAN-13: 2 bars in each guard at the ends, 2 in the centre guard, 2 in each of the 12 digits.
		{EAN13, "4006381333931", 3, 30, "4006381333931"},
		{EAN13, "0001", 1, 30, "0000000000017"},
		// Code 128: 3 bars a symbol (start, 9 data … see TestCode128: start + 8 data, check), 4 in the stop.
		{Code128, "CARD-0001", 2, 3*10 + 4, "CARD-0001"},
		{Code128, "0001", 4, 3*4 + 4, "0001"},
		{Code128, `a<&"'>`, 3, 3*8 + 4, `a<&"'>`},
		{QR, "CARD-0001", 8, 0, ""},
	}
	for _, tt := range tests {
		s, err := Encode(tt.typ, tt.number)
		if err != nil {
			t.Fatal(err)
		}
		d := parseSVG(t, s.SVG(tt.scale))
		w, h := s.Size()
		if d.Width != w*tt.scale || d.Height != h*tt.scale || d.ViewBox != fmt.Sprintf("0 0 %d %d", w, h) {
			t.Errorf("%s %s: width %d height %d viewBox %q, want %d %d \"0 0 %d %d\"",
				tt.typ, tt.number, d.Width, d.Height, d.ViewBox, w*tt.scale, h*tt.scale, w, h)
		}
		if d.ShapeRendering != "crispEdges" {
			t.Errorf("%s %s: shape-rendering %q, want crispEdges", tt.typ, tt.number, d.ShapeRendering)
		}
		if len(d.Background) != 1 || d.Background[0].Width != w || d.Background[0].Height != h {
			t.Errorf("%s %s: background %+v, want one white rect over the whole image", tt.typ, tt.number, d.Background)
		}
		bars := d.bars()
		if len(bars) != tt.bars {
			t.Errorf("%s %s: %d bars, want %d", tt.typ, tt.number, len(bars), tt.bars)
		}
		if tt.typ != QR {
			// The bars are the symbol's modules, after the quiet zone.
			got := make([]bool, len(s.Bars))
			ql, _ := s.QuietZone()
			for _, r := range bars {
				for x := r.X; x < r.X+r.Width; x++ {
					got[x-ql] = true
				}
			}
			if bits(got) != bits(s.Bars) {
				t.Errorf("%s %s: the SVG's bars are\n%s, want\n%s", tt.typ, tt.number, bits(got), bits(s.Bars))
			}
		} else if len(d.Paths) != 1 {
			t.Errorf("%s %s: %d paths, want 1", tt.typ, tt.number, len(d.Paths))
		}
		if got := d.text(); got != tt.text {
			t.Errorf("%s %s: the text reads %q, want %q", tt.typ, tt.number, got, tt.text)
		}
		if got := decodeImage(t, tt.typ, d.raster(t, 2)); got != s.Content {
			t.Errorf("%s %s: the SVG decodes to %q, want %q", tt.typ, tt.number, got, s.Content)
		}
	}
}
