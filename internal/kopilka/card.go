package kopilka

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Card kinds.
const (
	CardPlastic    = "plastic"
	CardElectronic = "electronic"
)

// Card statuses. Only an active card identifies its holder; a blocked card
// may be unblocked; a replaced card is retired for good.
const (
	CardActive   = "active"
	CardBlocked  = "blocked"
	CardReplaced = "replaced"
)

// Card is a loyalty card bound to a customer.
type Card struct {
	Number     string
	CustomerID string
	Kind       string // CardPlastic or CardElectronic
	Status     string // CardActive, CardBlocked or CardReplaced
	// RangeID is the range whose counter issued the number; empty when the
	// client gave the number.
	RangeID string
	// ReplacedBy is the number of the card that replaced this one.
	ReplacedBy string
	CreatedAt  time.Time
}

// ValidateCardNumber checks a card number given by a client.
func ValidateCardNumber(n string) error {
	if n == "" || len(n) > 64 {
		return Invalid("card", "card number must be 1 to 64 characters")
	}
	for _, r := range n {
		if r < '!' || r > '~' {
			return Invalid("card", "card number may hold only printable ASCII without spaces")
		}
	}
	return nil
}

// CheckDigit names how a range's numbers end.
type CheckDigit string

// The check digits a range may append to its numbers.
const (
	CheckNone  CheckDigit = "none"  // no check digit
	CheckLuhn  CheckDigit = "luhn"  // Luhn mod 10, as on bank cards
	CheckEAN13 CheckDigit = "ean13" // EAN-13's weighted digit; the number is then 13 digits
)

// Limits of a card range.
const (
	MaxRangeWidth  = 18 // digits of the sequence; 10^18 fits an int64
	MaxRangePrefix = 20 // characters of the prefix
)

// CardRange is a tenant's series of card numbers: the prefix, then the
// sequence number zero-padded to Width digits, then the check digit if
// any. The sequence runs from Start to End; Next is the issuing counter.
type CardRange struct {
	ID         string
	TenantID   string
	Name       string
	Prefix     string
	Start, End int64 // first and last sequence numbers, inclusive
	Width      int
	CheckDigit CheckDigit
	// Kind limits the range to plastic or electronic cards; empty serves
	// both.
	Kind string
	// Next is the sequence number the counter tries next; End+1 once the
	// range is used up. Numbers below it are issued or were taken when
	// the counter passed them; they are never issued again.
	Next      int64
	CreatedAt time.Time
}

// MaxSeq is the largest sequence number width digits hold.
func MaxSeq(width int) int64 {
	n := int64(1)
	for range width {
		n *= 10
	}
	return n - 1
}

func (r *CardRange) checkLen() int {
	if r.CheckDigit == CheckLuhn || r.CheckDigit == CheckEAN13 {
		return 1
	}
	return 0
}

// Len is the length of the range's numbers.
func (r *CardRange) Len() int { return len(r.Prefix) + r.Width + r.checkLen() }

// Number returns the number of sequence seq: prefix, zero-padded sequence
// and check digit. It does not check seq against Start and End.
func (r *CardRange) Number(seq int64) string {
	body := r.Prefix + pad(seq, r.Width)
	if d, ok := CheckDigitOf(r.CheckDigit, body); ok {
		return body + string(d)
	}
	return body
}

// Seq returns the sequence number of n and true when n is one of the
// range's numbers (check digit included).
func (r *CardRange) Seq(n string) (int64, bool) {
	seq, ok := r.shape(n)
	if !ok || r.Number(seq) != n {
		return 0, false
	}
	return seq, true
}

// shape returns the sequence n would have in the range when n has the
// range's prefix and length and a sequence between Start and End,
// whatever its check digit.
func (r *CardRange) shape(n string) (int64, bool) {
	if len(n) != r.Len() || !strings.HasPrefix(n, r.Prefix) {
		return 0, false
	}
	digits := n[len(r.Prefix) : len(r.Prefix)+r.Width]
	if !allDigits(digits) || r.checkLen() == 1 && !allDigits(n[len(n)-1:]) {
		return 0, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || seq < r.Start || seq > r.End {
		return 0, false
	}
	return seq, true
}

// BadCheckDigit reports whether n looks like one of the range's numbers
// but for its check digit: a mistyped number.
func (r *CardRange) BadCheckDigit(n string) bool {
	seq, ok := r.shape(n)
	return ok && r.Number(seq) != n
}

// Exhausted reports whether the counter has passed the last number.
func (r *CardRange) Exhausted() bool { return r.Next > r.End }

// Span returns the first and the last number of the range. The range's
// numbers are all of one length and, as strings, in sequence order, so
// every one of them lies between the two.
func (r *CardRange) Span() (first, last string) { return r.Number(r.Start), r.Number(r.End) }

// ValidateRange normalises and checks a new range in place: the check
// digit defaults to none, an End below zero means the largest sequence the
// width holds, and the counter starts at Start. It returns an
// invalid_request *Error naming the field.
func ValidateRange(r *CardRange) error {
	r.Name = strings.TrimSpace(r.Name)
	if utf8.RuneCountInString(r.Name) > 200 || !utf8.ValidString(r.Name) {
		return Invalid("name", "must be valid text of at most 200 characters")
	}
	if r.CheckDigit == "" {
		r.CheckDigit = CheckNone
	}
	switch r.CheckDigit {
	case CheckNone, CheckLuhn, CheckEAN13:
	default:
		return Invalid("check_digit", "must be none, luhn or ean13")
	}
	switch r.Kind {
	case "", CardPlastic, CardElectronic:
	default:
		return Invalid("kind", "must be plastic or electronic, or absent for both")
	}
	if err := validatePrefix(r.Prefix, r.CheckDigit); err != nil {
		return err
	}
	if r.Width < 1 || r.Width > MaxRangeWidth {
		return Invalid("width", "the sequence must be 1 to %d digits wide", MaxRangeWidth)
	}
	maxSeq := MaxSeq(r.Width)
	if r.End < 0 {
		r.End = maxSeq
	}
	if r.Start < 0 || r.Start > maxSeq {
		return Invalid("start", "must be 0 to %d, the largest %d-digit number", maxSeq, r.Width)
	}
	if r.End < r.Start || r.End > maxSeq {
		return Invalid("end", "must be %d (start) to %d, the largest %d-digit number", r.Start, maxSeq, r.Width)
	}
	if r.CheckDigit == CheckEAN13 && r.Len() != 13 {
		return Invalid("width", "an EAN-13 number has 13 digits: prefix %d + width %d + check digit 1 = %d; use width %d",
			len(r.Prefix), r.Width, r.Len(), 12-len(r.Prefix))
	}
	r.Next = r.Start
	return nil
}

func validatePrefix(p string, cd CheckDigit) error {
	if len(p) > MaxRangePrefix {
		return Invalid("prefix", "at most %d characters", MaxRangePrefix)
	}
	for _, c := range p {
		switch {
		case c >= '0' && c <= '9':
		case cd == CheckNone && (c >= 'A' && c <= 'Z' || c == '-'):
		case cd == CheckNone:
			return Invalid("prefix", "may hold digits, capital Latin letters and '-' only")
		default:
			return Invalid("prefix", "may hold digits only when the numbers carry a check digit")
		}
	}
	return nil
}

// CheckDigitOf returns the check digit of body by the method, and false
// for CheckNone or a body that is not all digits.
func CheckDigitOf(method CheckDigit, body string) (byte, bool) {
	if !allDigits(body) || body == "" {
		return 0, false
	}
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		// From the right: Luhn doubles the digit next to the check digit
		// and every second one after it; EAN weighs them 3, 1, 3 …
		switch {
		case method == CheckLuhn && i%2 == 0:
			d *= 2
			if d > 9 {
				d -= 9
			}
		case method == CheckEAN13 && i%2 == 0:
			d *= 3
		case method != CheckLuhn && method != CheckEAN13:
			return 0, false
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10), true
}

// CardLookups returns the card numbers a value typed or scanned at a till
// may stand for, best first: the value itself; then, for a scanned EAN-13
// barcode (13 digits whose last is the EAN check digit of the others), the
// 12 digits before the check digit and those without each of the leading
// zeros EAN-13 pads shorter numbers with. A number whose own range has a
// check digit is only found in full: its check digit is there to refuse
// mistyped numbers.
func CardLookups(v string) []string {
	out := []string{v}
	if len(v) != 13 {
		return out
	}
	if d, ok := CheckDigitOf(CheckEAN13, v[:12]); !ok || d != v[12] {
		return out
	}
	for body := v[:12]; ; body = body[1:] {
		out = append(out, body)
		if len(body) == 1 || body[0] != '0' {
			return out
		}
	}
}

// Overlap returns a number both ranges can make and true, or false when
// no number string can come from both, whatever their prefixes, widths,
// sequence bounds and check digits.
func Overlap(a, b *CardRange) (string, bool) {
	if a.Len() != b.Len() {
		return "", false
	}
	// x has the shorter prefix. The longer one, q, must begin with it and
	// go on in digits, which x's sequence must then begin with; after q
	// both ranges hold m digits of their own (and a check digit).
	x, y := a, b
	if len(x.Prefix) > len(y.Prefix) {
		x, y = y, x
	}
	q := y.Prefix
	lead, ok := strings.CutPrefix(q, x.Prefix)
	if !ok || !allDigits(lead) {
		return "", false
	}
	m := a.Len() - len(q)
	jx, okx := free(x, lead, m-x.checkLen())
	jy, oky := free(y, "", m-y.checkLen())
	if !okx || !oky {
		return "", false
	}
	switch {
	case x.checkLen() == 0 && y.checkLen() == 0:
		if in, ok := jx.meet(jy); ok {
			return q + pad(in.lo, m), true
		}
	case x.checkLen() == 1 && y.checkLen() == 1:
		return overlapChecked(q, m-1, jx, jy, x.CheckDigit, y.CheckDigit)
	case x.checkLen() == 1:
		return overlapMixed(q, m, jx, x.CheckDigit, jy)
	default:
		return overlapMixed(q, m, jy, y.CheckDigit, jx)
	}
	return "", false
}

// span is a closed interval of integers.
type span struct{ lo, hi int64 }

func (s span) meet(o span) (span, bool) {
	r := span{max(s.lo, o.lo), min(s.hi, o.hi)}
	return r, r.lo <= r.hi
}

// free returns the values of the last m sequence digits r can have once
// its sequence begins with lead (of width-m digits).
func free(r *CardRange, lead string, m int) (span, bool) {
	var d int64
	if lead != "" {
		d, _ = strconv.ParseInt(lead, 10, 64)
	}
	base := d * (MaxSeq(m) + 1)
	s := span{max(0, r.Start-base), min(MaxSeq(m), r.End-base)}
	return s, s.lo <= s.hi
}

// checkedSearch bounds the search for a body whose Luhn and EAN check
// digits agree: any 200 consecutive bodies that share their upper digits
// hold one, so 2,000 consecutive bodies always do.
const checkedSearch = 2000

// overlapChecked: both ranges end in a check digit after the m-digit free
// parts jx and jy of the body.
func overlapChecked(q string, m int, jx, jy span, cx, cy CheckDigit) (string, bool) {
	in, ok := jx.meet(jy)
	if !ok {
		return "", false
	}
	for v := in.lo; v <= in.hi && v-in.lo < checkedSearch; v++ {
		body := q + pad(v, m)
		dx, _ := CheckDigitOf(cx, body)
		if dy, _ := CheckDigitOf(cy, body); dx == dy {
			return body + string(dx), true
		}
	}
	return "", in.hi-in.lo >= checkedSearch // never reached: see checkedSearch
}

// overlapMixed: the checked range's body ends in m-1 free digits in jc and
// then its check digit; the other range's last m digits are in jn.
func overlapMixed(q string, m int, jc span, cd CheckDigit, jn span) (string, bool) {
	in, ok := jc.meet(span{jn.lo / 10, jn.hi / 10})
	if !ok {
		return "", false
	}
	// Only the two ends can miss: a body strictly between jn.lo/10 and
	// jn.hi/10 fits with any check digit.
	for v := in.lo; v <= in.hi && v <= in.lo+2; v++ {
		body := q + pad(v, m-1)
		d, _ := CheckDigitOf(cd, body)
		if t := v*10 + int64(d-'0'); t >= jn.lo && t <= jn.hi {
			return body + string(d), true
		}
	}
	return "", false
}

func pad(v int64, width int) string {
	if width == 0 {
		return ""
	}
	s := strconv.FormatInt(v, 10)
	if len(s) >= width {
		return s
	}
	return strings.Repeat("0", width-len(s)) + s
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
