package barcode

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// palette is the PNG's two colours: white (index 0) and black.
var palette = color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0}}

// PNG draws the symbol as a two-colour PNG, scale pixels a module, the
// text in basicfont's 7×13 face enlarged by whole pixels like the bars.
func (s *Symbol) PNG(scale int) ([]byte, error) {
	scale = min(max(scale, MinScale), MaxScale)
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, newScaled(s.raster(), scale)); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return b.Bytes(), nil
}

// raster draws the layout at one pixel a module: true is dark.
func (s *Symbol) raster() grid {
	g := grid{w: s.lay.w, h: s.lay.h, dark: make([]bool, s.lay.w*s.lay.h)}
	for _, r := range s.lay.rects {
		for y := r.y; y < r.y+r.h; y++ {
			for x := r.x; x < r.x+r.w; x++ {
				g.dark[y*g.w+x] = true
			}
		}
	}
	if len(s.lay.labels) == 0 {
		return g
	}
	mask := image.NewAlpha(image.Rect(0, 0, g.w, g.h))
	d := font.Drawer{Dst: mask, Src: image.Opaque, Face: basicfont.Face7x13}
	for _, l := range s.lay.labels {
		d.Dot = fixed.P(l.x, l.y+glyphBase)
		d.DrawString(l.text)
	}
	for i, a := range mask.Pix {
		if a >= 0x80 {
			g.dark[i] = true
		}
	}
	return g
}

// grid is a layout rasterised at one pixel a module.
type grid struct {
	w, h int
	dark []bool
}

// scaled shows a grid enlarged scale times, without allocating the
// enlarged pixels: the PNG encoder reads it row by row as a paletted
// image of one bit a pixel. It keeps the last enlarged row, so it is for
// one reader at a time.
type scaled struct {
	grid
	scale int
	row   []uint8 // the enlarged row of the grid's row rowY
	rowY  int
}

func newScaled(g grid, scale int) *scaled {
	return &scaled{grid: g, scale: scale, row: make([]uint8, g.w*scale), rowY: -1}
}

var _ image.PalettedImage = (*scaled)(nil)

func (s *scaled) ColorModel() color.Model { return palette }

func (s *scaled) Bounds() image.Rectangle { return image.Rect(0, 0, s.w*s.scale, s.h*s.scale) }

func (s *scaled) ColorIndexAt(x, y int) uint8 {
	if x < 0 || y < 0 || x >= len(s.row) || y >= s.h*s.scale {
		return 0
	}
	if gy := y / s.scale; gy != s.rowY {
		for i := range s.row {
			s.row[i] = 0
			if s.dark[gy*s.w+i/s.scale] {
				s.row[i] = 1
			}
		}
		s.rowY = gy
	}
	return s.row[x]
}

func (s *scaled) At(x, y int) color.Color { return palette[s.ColorIndexAt(x, y)] }
