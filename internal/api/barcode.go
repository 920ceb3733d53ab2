package api

import (
	"net/http"
	"strconv"

	"github.com/kopilka/kopilka/internal/barcode"
	"github.com/kopilka/kopilka/internal/kopilka"
)

// barcodeCache lets a browser or a wallet keep the image: the image of a
// number never changes, and it is the tenant's, so no shared cache keeps it.
const barcodeCache = "private, max-age=31536000, immutable"

// barcodeCSP lets an SVG opened on its own run nothing.
const barcodeCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

// maxBarcodePixels bounds a PNG's area (4 megapixels, 500 KB of raw
// 1-bit image): a long number at the largest scale would otherwise cost a
// second of CPU a request. SVG is drawn at any scale.
const maxBarcodePixels = 4_000_000

// barcodeQuery is the parsed query of GET /v1/cards/{number}/barcode.
type barcodeQuery struct {
	typ    barcode.Type // "" picks by the number
	format barcode.Format
	scale  int // 0 picks by the type
}

func parseBarcodeQuery(r *http.Request) (barcodeQuery, error) {
	q := r.URL.Query()
	var out barcodeQuery
	var err error
	if out.typ, err = barcode.ParseType(q.Get("type")); err != nil {
		return out, err
	}
	if out.format, err = barcode.ParseFormat(q.Get("format")); err != nil {
		return out, err
	}
	if s := q.Get("scale"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < barcode.MinScale || n > barcode.MaxScale {
			return out, kopilka.Invalid("scale", "scale must be a whole number from %d to %d", barcode.MinScale, barcode.MaxScale)
		}
		out.scale = n
	}
	return out, nil
}

// cardBarcode draws the card's number as an image.
func (h *Handler) cardBarcode(w http.ResponseWriter, r *http.Request) error {
	q, err := parseBarcodeQuery(r)
	if err != nil {
		return err
	}
	k, err := h.svc.GetCard(r.Context(), tenantOf(r), r.PathValue("number"))
	if err != nil {
		return err
	}
	if q.typ == "" {
		q.typ = barcode.DefaultType(k.Number)
	}
	if q.scale == 0 {
		q.scale = barcode.DefaultScale(q.typ)
	}
	sym, err := barcode.Encode(q.typ, k.Number)
	if err != nil {
		return err
	}
	if w, h := sym.Size(); q.format == barcode.PNG && w*h*q.scale*q.scale > maxBarcodePixels {
		most := 1
		for (most+1)*(most+1)*w*h <= maxBarcodePixels {
			most++
		}
		return kopilka.Invalid("scale", "a PNG of this number at scale %d would be %d×%d pixels; at most scale %d for it, or ask for SVG",
			q.scale, w*q.scale, h*q.scale, most)
	}
	img, err := sym.Render(q.format, q.scale)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", barcodeCache)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if q.format == barcode.SVG {
		hdr.Set("Content-Security-Policy", barcodeCSP)
	}
	writeRaw(w, http.StatusOK, q.format.ContentType(), img)
	return nil
}
