package transfer

import (
	"fmt"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// RowError is a problem with one row and column of an import file.
type RowError = loyalty.RowError

// groupSpaces are the characters that may group thousands in an amount.
const groupSpaces = " \u00a0\u202f\u2009\u2007"

// currencySuffixes may follow an amount (Excel writes currency cells so).
var currencySuffixes = []string{"₽", "руб.", "руб", "р.", "rub", "RUB"}

// ParseAmount reads an amount of currency units as hundredths: "1234.5",
// "1 234,50" and "-7" are 123450, 123450 and -700. Spaces may group the
// thousands; "." or "," stands before at most two decimals; a currency
// sign (₽, руб., р.) may follow. Anything else is an error, never a guess.
func ParseAmount(s string) (kopilka.Amount, error) {
	if v, ok := plainAmount(s); ok {
		return v, nil
	}
	orig := s
	bad := func(why string) error {
		return fmt.Errorf("%q is not an amount (%s); write it like 1234.50 or 1 234,50", orig, why)
	}
	s = strings.Trim(s, groupSpaces)
	for _, suf := range currencySuffixes {
		if t, ok := strings.CutSuffix(s, suf); ok {
			s = strings.TrimRight(t, groupSpaces)
			break
		}
	}
	neg := false
	if t, ok := strings.CutPrefix(s, "-"); ok {
		s, neg = t, true
	} else if t, ok := strings.CutPrefix(s, "−"); ok {
		s, neg = t, true
	}
	if strings.Contains(s, ".") && strings.Contains(s, ",") {
		return 0, bad(`both "." and "," in it`)
	}
	whole, frac, hasFrac := strings.Cut(strings.ReplaceAll(s, ",", "."), ".")
	if hasFrac && strings.Contains(frac, ".") {
		return 0, bad("more than one decimal separator")
	}
	if len(frac) > 2 {
		return 0, bad("more than two decimals; \",\" and \".\" separate decimals, spaces group thousands")
	}
	groups := strings.FieldsFunc(whole, func(r rune) bool { return strings.ContainsRune(groupSpaces, r) })
	if len(groups) == 0 || (hasFrac && frac == "") {
		return 0, bad("no digits")
	}
	for i, g := range groups {
		if !allDigits(g) {
			return 0, bad("not a number")
		}
		if len(groups) > 1 && ((i == 0 && len(g) > 3) || (i > 0 && len(g) != 3)) {
			return 0, bad("thousands grouped oddly")
		}
	}
	digits := strings.Join(groups, "")
	if !allDigits(frac) {
		return 0, bad("not a number")
	}
	if len(digits) > 15 {
		return 0, bad("too large")
	}
	w, _ := strconv.ParseInt(digits, 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	v := w*100 + f
	if v > kopilka.MaxAmount {
		return 0, bad("too large")
	}
	if neg {
		v = -v
	}
	return v, nil
}

// plainAmount reads the common case without allocating: digits, then
// "." or "," and at most two more digits.
func plainAmount(s string) (kopilka.Amount, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var w, f int64
	sep, decimals := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' && !sep:
			w = w*10 + int64(c-'0')
		case c >= '0' && c <= '9' && decimals < 2:
			f = f*10 + int64(c-'0')
			decimals++
		case (c == '.' || c == ',') && !sep && i > 0 && i < len(s)-1:
			sep = true
		default:
			return 0, false
		}
	}
	if decimals == 1 {
		f *= 10
	}
	v := w*100 + f
	return v, v <= kopilka.MaxAmount
}

// parseCellAmount is ParseAmount for a cell, which in a spreadsheet may
// hold a binary number such as 0.30000000000000004: that is rounded to
// hundredths when it is within a millionth of a hundredth of one.
func parseCellAmount(s string, sheet bool) (kopilka.Amount, error) {
	v, err := ParseAmount(s)
	if err == nil || !sheet {
		return v, err
	}
	f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > float64(kopilka.MaxAmount)/100 {
		return 0, err
	}
	h := f * 100
	r := math.Round(h)
	if math.Abs(h-r) > 1e-6*math.Max(1, math.Abs(h)) {
		return 0, err
	}
	return int64(r), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseDate reads a birth date written YYYY-MM-DD or DD.MM.YYYY (day and
// month may have one digit; a midnight time after a space is ignored, as
// spreadsheets add it) and returns it as YYYY-MM-DD.
func ParseDate(s string) (string, error) {
	orig := s
	// The refusal is made only when needed: made up front on every call,
	// it took 4 % of a million-row check.
	bad := func() error { return fmt.Errorf("%q is not a date; write it like 1990-05-17 or 17.05.1990", orig) }
	if d, t, ok := strings.Cut(s, " "); ok {
		switch strings.TrimSpace(t) {
		case "0:00", "00:00", "0:00:00", "00:00:00":
			s = d
		default:
			return "", bad()
		}
	}
	var y, m, d int
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		if !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:]) {
			return "", bad()
		}
		y, _ = strconv.Atoi(s[:4])
		m, _ = strconv.Atoi(s[5:7])
		d, _ = strconv.Atoi(s[8:])
		if t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC); t.Day() != d || int(t.Month()) != m {
			return "", bad()
		}
		return s, nil
	case strings.Count(s, ".") == 2:
		p := strings.Split(s, ".")
		if len(p[0]) < 1 || len(p[0]) > 2 || len(p[1]) < 1 || len(p[1]) > 2 || len(p[2]) != 4 ||
			!allDigits(p[0]) || !allDigits(p[1]) || !allDigits(p[2]) {
			return "", bad()
		}
		d, _ = strconv.Atoi(p[0])
		m, _ = strconv.Atoi(p[1])
		y, _ = strconv.Atoi(p[2])
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		if t.Day() != d || int(t.Month()) != m {
			return "", bad()
		}
	default:
		return "", bad()
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d), nil
}

// parseCellDate is ParseDate for a cell: a spreadsheet keeps dates as day
// numbers (serials), which it converts.
func parseCellDate(s string, sheet bool) (string, error) {
	if sheet {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 1 && f < 2958466 {
			t, err := excelize.ExcelDateToTime(math.Floor(f), false)
			if err == nil {
				return t.Format(time.DateOnly), nil
			}
		}
	}
	return ParseDate(s)
}

// genders maps the ways people write a gender.
var genders = map[string]string{
	"male": "male", "m": "male", "man": "male", "м": "male", "муж": "male", "муж.": "male", "мужской": "male", "мужчина": "male",
	"female": "female", "f": "female", "woman": "female", "ж": "female", "жен": "female", "жен.": "female",
	"женский": "female", "женщина": "female",
}

// ParseGender reads male or female in English or Russian.
func ParseGender(s string) (string, error) {
	if g, ok := genders[strings.ToLower(strings.TrimSpace(s))]; ok {
		return g, nil
	}
	return "", fmt.Errorf("%q is not a gender; write male or female (м or ж)", s)
}

// splitList splits a cell into trimmed, non-empty items.
func splitList(s string, spaces bool) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || (spaces && unicode.IsSpace(r))
	})
}

// text checks a free text field.
func text(s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("is %d characters long, at most %d allowed", n, max)
	}
	if kopilka.HasControl(s) {
		return fmt.Errorf("holds a control character")
	}
	return nil
}

// checkEmail checks an e-mail address as the API does.
func checkEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%q is not an e-mail address", s)
	}
	return nil
}
