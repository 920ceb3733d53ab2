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
