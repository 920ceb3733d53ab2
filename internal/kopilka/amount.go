package kopilka

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Amount is money or points in hundredths: 12345 is 123.45.
type Amount = int64

// Percent is a percentage with up to four decimals, held exactly as an
// integer count of ten-thousandths of a percent: 2.5% is 25000.
type Percent int64

// PercentScale is the number of Percent units in one percent.
const PercentScale = 10000

// ParsePercent reads a decimal such as "2.5" or "30" exactly.
func ParsePercent(s string) (Percent, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		return 0, fmt.Errorf("%q: a percentage may not be negative", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.ContainsAny(whole, "eE+") || strings.ContainsAny(frac, "eE+-") {
		return 0, fmt.Errorf("%q is not a plain decimal percentage", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 4 {
		return 0, fmt.Errorf("%q has more than four decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1000000 {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 4-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a percentage", s)
		}
	}
	return Percent(w*PercentScale + f), nil
}

// String prints the percentage as the shortest exact decimal.
func (p Percent) String() string {
	w, f := int64(p)/PercentScale, int64(p)%PercentScale
	if f == 0 {
		return strconv.FormatInt(w, 10)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%04d", w, f), "0")
}

// MarshalJSON writes the percentage as a JSON number.
func (p Percent) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalJSON reads a JSON number exactly, without binary floating point.
func (p *Percent) UnmarshalJSON(b []byte) error {
	v, err := ParsePercent(string(b))
	if err != nil {
		// An UnmarshalTypeError lets the decoder name the field at fault.
		return &json.UnmarshalTypeError{Value: "number " + string(b), Type: reflect.TypeFor[Percent]()}
	}
	*p = v
	return nil
}
