package e2e_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// scan reads a PNG barcode answer with gozxing, an independent decoder,
// as a till's scanner would, and returns its text.
func scan(t *testing.T, typ string, r response) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("Content-Type = %q, want image/png", ct)
	}
	img, err := png.Decode(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]gozxing.Reader{"ean13": oned.NewEAN13Reader(), "code128": oned.NewCode128Reader(), "qr": qrcode.NewQRCodeReader()}
	res, err := readers[typ].Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("decode the %s image: %v", typ, err)
	}
	return res.GetText()
}

// svgBars checks that an SVG answer is well-formed XML and returns its
// bars (rects in a group), its width in pixels and its text.
func svgBars(t *testing.T, r response) (bars int, width, text string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Fatalf("Content-Type = %q, want image/svg+xml", ct)
	}
	dec := xml.NewDecoder(bytes.NewReader(r.Body))
	depth, inText := 0, false
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, r.Body)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case el.Name.Local == "svg" && depth == 1:
				for _, a := range el.Attr {
					if a.Name.Local == "width" {
						width = a.Value
					}
				}
			case el.Name.Local == "rect" && depth == 3:
				bars++
			case el.Name.Local == "text":
				inText = true
			}
		case xml.EndElement:
			depth--
			inText = false
		case xml.CharData:
			if inText {
				b.Write(el)
			}
		}
	}
	return bars, width, b.String()
}

// TestCardBarcode draws cards over HTTP as a wallet, a self-service page
// and a printing shop would ask for them, scans the images back, and
// checks the refusals: bad parameters, a number EAN-13 cannot hold,
// another tenant's card.
func TestCardBarcode(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		tn := s.tenant(t, "Barcodes")
		pos := s.newAPIKey(t, tn.Key, map[string]any{"name": "till", "scopes": []string{"pos"}}).Key
		c := s.newCustomer(t, tn.Key, map[string]any{"phone": "+79160000001", "card": "4006381333931"})
		s.issueCard(t, tn.Key, c.ID, map[string]string{"kind": "plastic", "number": "0001"})
		s.issueCard(t, tn.Key, c.ID, map[string]string{"kind": "electronic", "number": "CARD-0001/"})
		get := func(number, query string) response {
			return s.do(t, "GET", "/v1/cards/"+url.PathEscape(number)+"/barcode"+query, pos, nil, nil)
		}

		// A valid EAN-13 number is drawn as EAN-13 SVG by default: 30 bars,
		// the 13 digits under them, 3 pixels a module (113 modules wide).
		r := get("4006381333931", "")
		r.want(t, "the default barcode", http.StatusOK, "")
		if bars, width, text := svgBars(t, r); bars != 30 || width != "339" || text != "4006381333931" {
			t.Errorf("default barcode: %d bars, width %s, text %q; want 30, 339, 4006381333931", bars, width, text)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "immutable") {
			t.Errorf("Cache-Control = %q, want private and immutable", cc)
		}
		for _, tt := range []struct{ number, typ, want string }{
			{"4006381333931", "ean13", "4006381333931"},
			{"4006381333931", "qr", "4006381333931"},
			{"CARD-0001/", "code128", "CARD-0001/"},
			{"CARD-0001/", "qr", "CARD-0001/"},
			{"0001", "code128", "0001"},
			{"0001", "ean13", "0000000000017"}, // padded to 12 digits, check digit 7
		} {
			r := get(tt.number, "?format=png&type="+tt.typ)
			r.want(t, tt.typ+" PNG of "+tt.number, http.StatusOK, "")
			if got := scan(t, tt.typ, r); got != tt.want {
				t.Errorf("the %s PNG of %s scans as %q, want %q", tt.typ, tt.number, got, tt.want)
			}
		}

		// The padded EAN-13 a till scans finds the card's holder, and its
		// barcode is the card's own number.
		r = s.do(t, "GET", "/v1/customers?card=0000000000017", pos, nil, nil)
		r.want(t, "find by the scanned EAN-13 of card 0001", http.StatusOK, "")
		var found customer
		r.decode(t, &found)
		if found.ID != c.ID {
			t.Errorf("the scan of card 0001 found %s, want %s", found.ID, c.ID)
		}
		r = get("0000000000017", "?format=png")
		r.want(t, "the barcode by a scanned number", http.StatusOK, "")
		if got := scan(t, "code128", r); got != "0001" {
			t.Errorf("the barcode of the card scanned as 0000000000017 reads %q, want 0001", got)
		}

		// The scale sets the size: a QR of version 1 (21 modules) in its
		// 4-module quiet zone is 29 modules; 10 pixels each.
		r = get("0001", "?type=qr&format=png&scale=10")
		r.want(t, "a scaled QR", http.StatusOK, "")
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(r.Body)); err != nil || cfg.Width != 290 || cfg.Height != 290 {
			t.Errorf("QR at scale 10: %dx%d %v, want 290x290", cfg.Width, cfg.Height, err)
		}

		for _, tt := range []struct{ query, field string }{
			{"?type=ean8", "type"}, {"?format=gif", "format"}, {"?scale=0", "scale"}, {"?scale=21", "scale"},
			{"?scale=3.5", "scale"}, {"?scale=x", "scale"},
		} {
			r := get("0001", tt.query)
			r.want(t, "barcode"+tt.query, http.StatusBadRequest, "invalid_request")
			if p := r.problem(t); p.Field != tt.field {
				t.Errorf("barcode%s: field %q, want %q", tt.query, p.Field, tt.field)
			}
		}
		// A long number's PNG at the largest scale would be tens of
		// megapixels: refused, naming the largest scale it allows; SVG is
		// drawn at any scale.
		long := "LONG-" + strings.Repeat("7A", 20)
		s.issueCard(t, tn.Key, c.ID, map[string]string{"kind": "plastic", "number": long})
		r = get(long, "?format=png&scale=20")
		r.want(t, "a huge PNG", http.StatusBadRequest, "invalid_request")
		if p := r.problem(t); p.Field != "scale" || !strings.Contains(p.Detail, "at most scale") {
			t.Errorf("a huge PNG: %+v, want field scale naming the largest scale", p)
		}
		get(long, "?format=png&scale=2").want(t, "a long number's PNG at a small scale", http.StatusOK, "")
		get(long, "?format=svg&scale=20").want(t, "a long number's SVG at the largest scale", http.StatusOK, "")
		get("CARD-0001/", "?type=ean13").want(t, "letters as EAN-13", http.StatusUnprocessableEntity, "invalid_request")
		get("4006381333932", "?type=ean13").want(t, "a mistyped check digit", http.StatusNotFound, "not_found")
		get("NOPE", "").want(t, "an unknown card", http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/cards/0001/barcode", "", nil, nil).want(t, "no key", http.StatusUnauthorized, "unauthorized")

		// Another tenant's key sees no such card.
		other := s.tenant(t, "Other")
		s.do(t, "GET", "/v1/cards/0001/barcode", other.Key, nil, nil).want(t, "another tenant's card", http.StatusNotFound, "not_found")
	})
}

// TestCLICardBarcode: `kopilka card barcode` writes the image the API
// serves, to a file or standard output, and refuses bad flags (exit 2),
// unknown cards and numbers the type cannot hold (exit 1) without writing.
func TestCLICardBarcode(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		tn := s.tenant(t, "Print shop")
		c := s.newCustomer(t, tn.Key, map[string]any{"card": "4006381333931"})
		s.issueCard(t, tn.Key, c.ID, map[string]string{"number": "P-0001"})
		s.tenant(t, "Another") // two tenants: --tenant is needed

		dir := t.TempDir()
		png := filepath.Join(dir, "card.png")
		if _, err := runCLI("card", "barcode", "4006381333931", "--out", png, "--tenant", tn.ID, "--db", s.db); err != nil {
			t.Fatalf("card barcode --out card.png: %v", err)
		}
		b, err := os.ReadFile(png)
		if err != nil {
			t.Fatal(err)
		}
		// The format follows the extension, the type the number.
		if got := scan(t, "ean13", response{Header: http.Header{"Content-Type": {"image/png"}}, Body: b}); got != "4006381333931" {
			t.Errorf("card.png scans as %q, want 4006381333931", got)
		}
		api := s.do(t, "GET", "/v1/cards/4006381333931/barcode?format=png", tn.Key, nil, nil)
		if !bytes.Equal(api.Body, b) {
			t.Error("the CLI's PNG differs from the API's")
		}

		out, err := runCLI("card", "barcode", "P-0001", "--type", "qr", "--tenant", tn.ID, "--db", s.db)
		if err != nil {
			t.Fatalf("card barcode P-0001 --type qr: %v", err)
		}
		if bars, _, _ := svgBars(t, response{Header: http.Header{"Content-Type": {"image/svg+xml"}}, Body: []byte(out)}); bars != 0 || !strings.Contains(out, "<path") {
			t.Errorf("the QR SVG on stdout has %d bar rects and no path? %.200s", bars, out)
		}

		for _, tt := range []struct {
			args []string
			code int
		}{
			{[]string{"card", "barcode", "P-0001", "--tenant", tn.ID, "--type", "ean8"}, 2},
			{[]string{"card", "barcode", "P-0001", "--tenant", tn.ID, "--scale", "0"}, 2},
			{[]string{"card", "barcode", "P-0001", "--tenant", tn.ID, "--format", "gif"}, 2},
			{[]string{"card", "barcode", "--tenant", tn.ID}, 2},
			{[]string{"card", "barcode", "P-0001"}, 2}, // which tenant?
			{[]string{"card", "barcode", "P-0001", "--tenant", tn.ID, "--type", "ean13"}, 1},
			{[]string{"card", "barcode", "NOPE", "--tenant", tn.ID}, 1},
		} {
			bad := filepath.Join(dir, "bad.svg")
			args := append(tt.args, "--db", s.db, "--out", bad)
			_, err := runCLI(args...)
			got := exitCode(err) // as main exits: an error without a code is 1
			if err != nil && got == -1 {
				got = 1
			}
			if err == nil || got != tt.code {
				t.Errorf("Run(%q) = %v (exit %d), want exit %d", tt.args, err, got, tt.code)
			}
			if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Run(%q) wrote %s", tt.args, bad)
			}
		}
	})
}
