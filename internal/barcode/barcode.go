// Package barcode draws a card number as an EAN-13, Code 128 or QR symbol,
// in PNG or SVG, for wallets, self-service pages and card printing.
//
// The symbols are encoded by github.com/boombuler/barcode; this package
// lays them out (quiet zones, bar heights, the human-readable line under
// the linear codes) and renders the layout itself: PNG as a two-colour
// image scaled by whole pixels, SVG as rectangles in module units with
// crisp edges. It is pure: no I/O besides the bytes it returns.
//
// Which numbers each type takes:
//
//   - EAN-13 takes digits only. A 13-digit number must end in its EAN-13
//     check digit and is drawn as it is. A number of 1 to 12 digits is
//     padded with leading zeros to 12 and given its check digit; a till
//     that scans it gets 13 digits, and the card lookup
//     (kopilka.CardLookups) finds the card again by stripping the check
//     digit and the padding. Anything else is not_encodable.
//   - Code 128 takes any printable ASCII (the characters card numbers may
//     hold, and the space), at most 80 characters. Code set C carries runs
//     of four digits or more (a whole number of 4 digits or more when it
//     is all digits; an odd count ends with one digit in set B), code set
//     B the rest.
//   - QR takes any card number, with error correction M.
package barcode

import (
	"fmt"
	"image/color"
	"strings"

	bc "github.com/boombuler/barcode"
	"github.com/boombuler/barcode/code128"
	"github.com/boombuler/barcode/ean"
	"github.com/boombuler/barcode/qr"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// Type is a symbology.
type Type string

// The symbologies a card number may be drawn in.
const (
	EAN13   Type = "ean13"
	Code128 Type = "code128"
	QR      Type = "qr"
)

// Format is an image format.
type Format string

// The image formats.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// ContentType is the format's media type.
func (f Format) ContentType() string {
	if f == PNG {
		return "image/png"
	}
	return "image/svg+xml"
}

// The bounds of the scale: pixels (PNG) or CSS pixels (SVG) per module.
const (
	MinScale = 1
	MaxScale = 20
)

// DefaultScale is the scale of a type when none is asked: 3 pixels a
// module for the linear codes, 8 for QR.
func DefaultScale(t Type) int {
	if t == QR {
		return 8
	}
	return 3
}

// ParseType returns the type s names; an empty s is "" (the caller picks
// the default with DefaultType). It returns an invalid_request naming the
// field "type".
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case "", EAN13, Code128, QR:
		return t, nil
	}
	return "", kopilka.Invalid("type", "type must be ean13, code128 or qr")
}

// ParseFormat returns the format s names, SVG when s is empty. It returns
// an invalid_request naming the field "format".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return SVG, nil
	case PNG, SVG:
		return f, nil
	}
	return "", kopilka.Invalid("format", "format must be png or svg")
}

// DefaultType is the type a number is drawn in when none is asked: EAN-13
// when the number is a valid EAN-13 (13 digits ending in their check
// digit), else Code 128.
func DefaultType(number string) Type {
	if len(number) == 13 {
		if d, ok := kopilka.CheckDigitOf(kopilka.CheckEAN13, number[:12]); ok && d == number[12] {
			return EAN13
		}
	}
	return Code128
}

// Symbol is a card number encoded in a symbology and laid out, ready to
// render.
type Symbol struct {
	Type Type
	// Content is what the symbol holds: for EAN-13 the 13 digits (padding
	// and check digit included), otherwise the number itself.
	Content string
	// Check is the symbol's check value: the EAN-13 check digit, or the
	// Code 128 symbol check character's value (mod 103); -1 for QR, whose
	// error correction is not one value.
	Check int
	// Bars is the linear code's modules from the first bar to the last,
	// quiet zones excluded (true is a bar); nil for QR.
	Bars []bool

	lay layout
}

// Encode encodes number as a symbol of type t. A number the type cannot
// hold is a not_encodable *kopilka.Error saying why.
func Encode(t Type, number string) (*Symbol, error) {
	switch t {
	case EAN13:
		return encodeEAN13(number)
	case Code128:
		return encodeCode128(number)
	case QR:
		return encodeQR(number)
	}
	return nil, kopilka.Invalid("type", "type must be ean13, code128 or qr")
}

func notEncodable(format string, args ...any) error {
	return &kopilka.Error{Code: kopilka.CodeNotEncodable, Field: "type", Message: fmt.Sprintf(format, args...)}
}

// EANContent returns the 13 digits EAN-13 draws for number, or a
// not_encodable error.
func EANContent(number string) (string, error) {
	for i := range len(number) {
		if number[i] < '0' || number[i] > '9' {
			return "", notEncodable("EAN-13 holds digits only, and card %s has other characters; use code128 or qr", number)
		}
	}
	switch {
	case number == "":
		return "", notEncodable("EAN-13 needs a number of 1 to 13 digits")
	case len(number) > 13:
		return "", notEncodable("EAN-13 holds 13 digits, and card %s has %d; use code128 or qr", number, len(number))
	case len(number) == 13:
		if d, _ := kopilka.CheckDigitOf(kopilka.CheckEAN13, number[:12]); d != number[12] {
			return "", notEncodable("card %s has 13 digits but its last is not the EAN-13 check digit of the others (%c); use code128 or qr", number, d)
		}
		return number, nil
	}
	body := strings.Repeat("0", 12-len(number)) + number
	d, _ := kopilka.CheckDigitOf(kopilka.CheckEAN13, body)
	return body + string(d), nil
}

func encodeEAN13(number string) (*Symbol, error) {
	content, err := EANContent(number)
	if err != nil {
		return nil, err
	}
	code, err := ean.Encode(content)
	if err != nil {
		return nil, fmt.Errorf("encode EAN-13 %s: %w", content, err)
	}
	s := &Symbol{Type: EAN13, Content: content, Check: int(content[12] - '0'), Bars: modules(code)}
	s.lay = eanLayout(s.Bars, content)
	return s, nil
}

// maxCode128 is the longest content the encoder takes.
const maxCode128 = 80

func encodeCode128(number string) (*Symbol, error) {
	if number == "" || len(number) > maxCode128 {
		return nil, notEncodable("Code 128 here holds 1 to %d characters, and the number has %d", maxCode128, len(number))
	}
	for i := range len(number) {
		if c := number[i]; c < ' ' || c > '~' {
			return nil, notEncodable("Code 128 here holds printable ASCII only, and the number has byte 0x%02x at %d", c, i)
		}
	}
	code, err := code128.Encode(number)
	if err != nil {
		return nil, fmt.Errorf("encode Code 128 %q: %w", number, err)
	}
	s := &Symbol{Type: Code128, Content: number, Check: code.CheckSum(), Bars: modules(code)}
	s.lay = code128Layout(s.Bars, number)
	return s, nil
}

func encodeQR(number string) (*Symbol, error) {
	if number == "" {
		return nil, notEncodable("QR needs a number")
	}
	code, err := qr.Encode(number, qr.M, qr.Auto)
	if err != nil {
		return nil, notEncodable("QR cannot hold this number: %v", err)
	}
	s := &Symbol{Type: QR, Content: number, Check: -1}
	s.lay = qrLayout(code)
	return s, nil
}

// modules reads a linear code's modules (one pixel each) from the
// encoder's image.
func modules(code bc.Barcode) []bool {
	b := code.Bounds()
	out := make([]bool, b.Dx())
	for x := range out {
		out[x] = dark(code.At(b.Min.X+x, b.Min.Y))
	}
	return out
}

func dark(c color.Color) bool {
	return color.Gray16Model.Convert(c).(color.Gray16).Y < 0x8000
}

// Size is the image's size in modules, quiet zones and text included.
func (s *Symbol) Size() (w, h int) { return s.lay.w, s.lay.h }

// QuietZone is the light margin in modules on the left and the right of
// the symbol (and, for QR, above and below it).
func (s *Symbol) QuietZone() (left, right int) { return s.lay.quietL, s.lay.quietR }

// Render draws the symbol in the format at scale (clamped to MinScale …
// MaxScale).
func (s *Symbol) Render(f Format, scale int) ([]byte, error) {
	scale = min(max(scale, MinScale), MaxScale)
	if f == PNG {
		return s.PNG(scale)
	}
	return s.SVG(scale), nil
}
