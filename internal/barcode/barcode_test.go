package barcode

import (
	"bytes"
	"image"
	"image/png"
	"slices"
	"strings"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// bits writes modules as 0 and 1.
func bits(m []bool) string {
	var b strings.Builder
	for _, v := range m {
		if v {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

// The EAN-13 patterns below are written by hand from the standard's
// tables (ISO/IEC 15420): each digit of the left half in set L (odd
// parity) or G (even parity) as the first digit's parity pattern says,
// the right half in set R, between the guards 101, 01010 and 101.
func TestEAN13Modules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, number, content string
		want                  []string
	}{
		{
			// First digit 4: parity LGLLGG.
			name: "4006381333931", number: "4006381333931", content: "4006381333931",
			want: []string{"101",
				"0001101", // 0 L
				"0100111", // 0 G
				"0101111", // 6 L
				"0111101", // 3 L
				"0001001", // 8 G
				"0110011", // 1 G
				"01010",
				"1000010", // 3 R
				"1000010", // 3 R
				"1000010", // 3 R
				"1110100", // 9 R
				"1000010", // 3 R
				"1100110", // 1 R
				"101"},
		},
		{
			// 0001 padded to 000000000001, check digit 7 (1×3 = 3, 10−3);
			// first digit 0: parity LLLLLL.
			name: "padded 0001", number: "0001", content: "0000000000017",
			want: []string{"101",
				"0001101", "0001101", "0001101", "0001101", "0001101", "0001101", // 0 L ×6
				"01010",
				"1110010", "1110010", "1110010", "1110010", // 0 R ×4
				"1100110", // 1 R
				"1000100", // 7 R
				"101"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Encode(EAN13, tt.number)
			if err != nil {
				t.Fatalf("Encode(ean13, %s) = %v", tt.number, err)
			}
			if s.Content != tt.content {
				t.Errorf("Content = %s, want %s", s.Content, tt.content)
			}
			if got, want := bits(s.Bars), strings.Join(tt.want, ""); got != want {
				t.Errorf("modules of %s:\n got %s\nwant %s", tt.number, got, want)
			}
			if want := int(tt.content[12] - '0'); s.Check != want {
				t.Errorf("Check = %d, want %d", s.Check, want)
			}
		})
	}
}

func TestEANContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		number, want string // want "" means not_encodable
	}{
		{"4006381333931", "4006381333931"},
		{"4006381333932", ""}, // a wrong check digit
		{"400638133393", "4006381333931"},
		{"0001", "0000000000017"},
		{"7", "0000000000079"}, // 7×3 = 21, 10−1
		{"", ""},
		{"40063813339310", ""}, // 14 digits
		{"CARD-0001", ""},
		{"12345 ", ""},
	}
	for _, tt := range tests {
		got, err := EANContent(tt.number)
		if tt.want == "" {
			if kopilka.ErrorCode(err) != kopilka.CodeNotEncodable {
				t.Errorf("EANContent(%q) = %q, %v; want not_encodable", tt.number, got, err)
			}
			if _, err := Encode(EAN13, tt.number); kopilka.ErrorCode(err) != kopilka.CodeNotEncodable {
				t.Errorf("Encode(ean13, %q) = %v, want not_encodable", tt.number, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("EANContent(%q) = %q, %v; want %q", tt.number, got, err, tt.want)
		}
		// A till scanning the symbol finds the card again.
		if !slices.Contains(kopilka.CardLookups(got), tt.number) {
			t.Errorf("CardLookups(%s) = %v, want it to hold the card number %s", got, kopilka.CardLookups(got), tt.number)
		}
	}
}

func TestDefaultType(t *testing.T) {
	t.Parallel()
	for n, want := range map[string]Type{
		"4006381333931": EAN13,
		"4006381333930": Code128, // 13 digits, wrong check digit
		"400638133393":  Code128, // 12 digits: EAN-13 only when asked
		"CARD-0001":     Code128,
		"0001":          Code128,
	} {
		if got := DefaultType(n); got != want {
			t.Errorf("DefaultType(%s) = %s, want %s", n, got, want)
		}
	}
}

// The Code 128 check value is the start value plus each symbol's value
// times its position, mod 103; worked by hand here.
func TestCode128(t *testing.T) {
	t.Parallel()
	tests := []struct {
		number  string
		symbols int // start and data symbols, check and stop excluded
		check   int
	}{
		// Start B 104; C 35, A 33, R 50, D 36, - 13; Code C 99; 00 0, 01 1:
		// 104 + 35 + 2·33 + 3·50 + 4·36 + 5·13 + 6·99 + 7·0 + 8·1 = 1166 = 11·103 + 33.
		{"CARD-0001", 9, 33},
		// Start C 105; 40 06 38 13 33 93; Code B 100; 1 17:
		// 105 + 40 + 2·6 + 3·38 + 4·13 + 5·33 + 6·93 + 7·100 + 8·17 = 1882 = 18·103 + 28.
		{"4006381333931", 9, 28},
		// All digits, even: set C throughout. Start C 105; 00 0, 01 1:
		// 105 + 0 + 2·1 = 107 = 103 + 4.
		{"0001", 3, 4},
		// Start B 104; a 65, < 28, & 6: 104 + 65 + 56 + 18 = 243 = 2·103 + 37.
		{"a<&", 4, 37},
	}
	for _, tt := range tests {
		s, err := Encode(Code128, tt.number)
		if err != nil {
			t.Fatalf("Encode(code128, %s) = %v", tt.number, err)
		}
		if s.Check != tt.check {
			t.Errorf("Encode(code128, %s).Check = %d, want %d", tt.number, s.Check, tt.check)
		}
		// Each symbol is 11 modules, the check symbol too; the stop is 13.
		if got, want := len(s.Bars), 11*(tt.symbols+1)+13; got != want {
			t.Errorf("Encode(code128, %s) has %d modules, want %d (%d symbols)", tt.number, got, want, tt.symbols)
		}
	}
	for _, n := range []string{"", strings.Repeat("1", 81), "CARD\x01", "карта"} {
		if _, err := Encode(Code128, n); kopilka.ErrorCode(err) != kopilka.CodeNotEncodable {
			t.Errorf("Encode(code128, %q) = %v, want not_encodable", n, err)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "ean13", "code128", "qr"} {
		if got, err := ParseType(s); err != nil || string(got) != s {
			t.Errorf("ParseType(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"EAN13", "pdf417", "ean-13"} {
		if _, err := ParseType(s); kopilka.ErrorCode(err) != kopilka.CodeInvalidRequest || kopilka.AsError(err).Field != "type" {
			t.Errorf("ParseType(%q) = %v, want invalid_request on type", s, err)
		}
	}
	if f, err := ParseFormat(""); f != SVG || err != nil {
		t.Errorf(`ParseFormat("") = %q, %v; want svg`, f, err)
	}
	if f, err := ParseFormat("png"); f != PNG || err != nil {
		t.Errorf(`ParseFormat("png") = %q, %v; want png`, f, err)
	}
	if _, err := ParseFormat("gif"); kopilka.ErrorCode(err) != kopilka.CodeInvalidRequest || kopilka.AsError(err).Field != "format" {
		t.Errorf(`ParseFormat("gif") = %v, want invalid_request on format`, err)
	}
}

// TestPNG decodes the PNG with image/png: its size is the layout's times
// the scale, and the quiet zones are white beside the bars (for QR, all
// round); the symbol begins right after the zone and decodes.
func TestPNG(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		typ    Type
		number string
		scale  int
	}{
		{EAN13, "4006381333931", 1}, {EAN13, "0001", 3}, {Code128, "CARD-0001", 2}, {Code128, "1", 5},
		{QR, "CARD-0001", 8}, {QR, "4006381333931", 1},
	} {
		s, err := Encode(tt.typ, tt.number)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.PNG(tt.scale)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s %s: png.Decode = %v", tt.typ, tt.number, err)
		}
		w, h := s.Size()
		if got, want := img.Bounds(), image.Rect(0, 0, w*tt.scale, h*tt.scale); got != want {
			t.Errorf("%s %s: bounds %v, want %v", tt.typ, tt.number, got, want)
		}
		ql, qr := s.QuietZone()
		// The standards' least quiet zones: EAN-13 11 modules left and 7
		// right, Code 128 10 each side, QR 4 all round.
		minQ := map[Type][2]int{EAN13: {11, 7}, Code128: {10, 10}, QR: {4, 4}}[tt.typ]
		if ql < minQ[0] || qr < minQ[1] {
			t.Errorf("%s %s: quiet zones %d and %d modules, want at least %d and %d", tt.typ, tt.number, ql, qr, minQ[0], minQ[1])
		}
		top, bottom := 0, h
		if tt.typ != QR {
			// Down to the bottom of the shortest bars: EAN-13's first
			// digit stands in its quiet zone beside the longer guards.
			top, bottom = marginTop, h
			for _, r := range s.lay.rects {
				bottom = min(bottom, r.y+r.h)
			}
		}
		for y := top * tt.scale; y < bottom*tt.scale; y++ {
			for x := range ql * tt.scale {
				if !white(img, x, y) {
					t.Fatalf("%s %s: pixel (%d, %d) in the left quiet zone is dark", tt.typ, tt.number, x, y)
				}
			}
			for x := (w - qr) * tt.scale; x < w*tt.scale; x++ {
				if !white(img, x, y) {
					t.Fatalf("%s %s: pixel (%d, %d) in the right quiet zone is dark", tt.typ, tt.number, x, y)
				}
			}
		}
		first := top // a linear code's first bar begins at the top of the bars
		if tt.typ == QR {
			first = qrQuiet // the finder pattern's corner
		}
		if white(img, ql*tt.scale, first*tt.scale) {
			t.Errorf("%s %s: the first module after the quiet zone is light, want a bar or finder", tt.typ, tt.number)
		}
		if tt.typ == QR {
			for x := range w * tt.scale {
				for _, y := range []int{0, qrQuiet*tt.scale - 1, (h - qrQuiet) * tt.scale, h*tt.scale - 1} {
					if !white(img, x, y) {
						t.Fatalf("%s %s: pixel (%d, %d) in the quiet zone is dark", tt.typ, tt.number, x, y)
					}
				}
			}
		}
		if got := decodeImage(t, tt.typ, img); got != s.Content {
			t.Errorf("%s %s: the PNG decodes to %q, want %q", tt.typ, tt.number, got, s.Content)
		}
	}
}

func white(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r > 0x8000 && g > 0x8000 && b > 0x8000
}

// TestPNGScaleClamped: scales outside 1 … 20 are clamped.
func TestPNGScaleClamped(t *testing.T) {
	t.Parallel()
	s, err := Encode(QR, "1")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := s.Size()
	for scale, want := range map[int]int{0: 1, -3: 1, 21: 20, 1000: 20} {
		b, err := s.Render(PNG, scale)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != w*want {
			t.Errorf("Render(png, %d): width %d, %v; want %d", scale, cfg.Width, err, w*want)
		}
	}
}

// TestDecodeMany: numbers of every shape decode back, in both formats, by
// an independent decoder.
func TestDecodeMany(t *testing.T) {
	t.Parallel()
	numbers := map[Type][]string{
		EAN13:   {"4006381333931", "4600000000008", "000000000001", "1", "987654321098"},
		Code128: {"1", "12", "123", "1234", "0000000001", "CARD-0001", "A1B2C3", "card-1234567-x", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", strings.Repeat("9", 64)},
		QR:      {"1", "CARD-0001", "4006381333931", "cus_3ptyacpy4kzgszc1", strings.Repeat("Z9-", 21)},
	}
	for typ, list := range numbers {
		for _, n := range list {
			s, err := Encode(typ, n)
			if err != nil {
				t.Fatalf("Encode(%s, %q) = %v", typ, n, err)
			}
			b, err := s.PNG(2)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeImage(t, typ, img); got != s.Content {
				t.Errorf("%s %q: the PNG decodes to %q, want %q", typ, n, got, s.Content)
			}
			doc := parseSVG(t, s.SVG(2))
			if got := decodeImage(t, typ, doc.raster(t, 2)); got != s.Content {
				t.Errorf("%s %q: the SVG decodes to %q, want %q", typ, n, got, s.Content)
			}
		}
	}
}
