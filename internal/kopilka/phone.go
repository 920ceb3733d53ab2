package kopilka

import "strings"

// NormalizePhone turns a phone number as people type it into E.164.
// Russian habits are understood: "8 (912) 345-67-89", "+7 912 345 67 89",
// "79123456789" and the bare ten digits "9123456789" all give
// "+79123456789". Any other number must start with "+" and a country code.
// It returns false when the input is not a phone number.
func NormalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	digits := make([]byte, 0, 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '\t':
		default:
			return "", false
		}
	}
	d := string(digits)
	switch {
	case plus && strings.HasPrefix(d, "7"):
		if len(d) != 11 {
			return "", false
		}
	case plus:
		if len(d) < 8 || len(d) > 15 || d[0] == '0' {
			return "", false
		}
		return "+" + d, true
	case len(d) == 11 && (d[0] == '8' || d[0] == '7'):
		d = "7" + d[1:]
	case len(d) == 10:
		d = "7" + d
	default:
		return "", false
	}
	// A Russian number: +7 and ten digits whose first is not 0.
	if d[1] == '0' {
		return "", false
	}
	return "+" + d, true
}

// MaskPhone returns an E.164 phone number with everything but its country
// code and last four digits starred, for answers that should show which
// number it is without giving it away:
//
//	+79161234567  → +7 *** ***-45-67  (Russian: +7 and ten digits)
//	+4930123456   → +49 **** 3456     (others: country code, stars, last four)
//	+442079460958 → +44 ****** 0958
//
// The country code is the ITU one: 1 and 7 are one digit, the two-digit
// codes are listed, all others have three. At least four digits after the
// country code are always starred: a national number shorter than eight
// digits shows fewer than four. An empty phone gives ""; anything else
// that is not "+" and digits (with at least one after the country code)
// gives "***", which shows nothing of it.
func MaskPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	d, ok := strings.CutPrefix(e164, "+")
	if !ok || d == "" || d[0] == '0' || strings.Trim(d, "0123456789") != "" {
		return "***"
	}
	cc := countryCodeLen(d)
	national := len(d) - cc
	if national < 1 {
		return "***"
	}
	if d[0] == '7' && national == 10 {
		return "+7 *** ***-" + d[7:9] + "-" + d[9:]
	}
	shown := min(4, max(0, national-4))
	out := "+" + d[:cc] + " " + strings.Repeat("*", national-shown)
	if shown > 0 {
		out += " " + d[len(d)-shown:]
	}
	return out
}

// twoDigitCodes are the ITU country codes of two digits, space-separated.
const twoDigitCodes = " 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 " +
	"60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 "

// countryCodeLen is how many of the digits d (without "+", not empty)
// are the country code.
func countryCodeLen(d string) int {
	switch {
	case d[0] == '1' || d[0] == '7':
		return 1
	case len(d) >= 2 && strings.Contains(twoDigitCodes, " "+d[:2]+" "):
		return 2
	}
	return min(3, len(d))
}
