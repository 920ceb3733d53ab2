package transfer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// Limits of one row.
const (
	maxExternalID = 128
	maxCardsInRow = 20
	maxTags       = 50
	maxTag        = 64
	maxName       = 200
)

// record is one row of a file as read: its line and its fields.
type record struct {
	line   int
	fields []string
}

// blank reports whether every field of the record is empty.
func (r record) blank() bool {
	for _, f := range r.fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseRow turns a record into an import row, checking every cell on its
// own; sheet says the record comes from a spreadsheet (raw cell values).
// now bounds birth dates.
func (h *header) parseRow(rec record, sheet bool, now time.Time) (loyalty.ImportRow, []RowError) {
	r := loyalty.ImportRow{Line: rec.line}
	today := now.Format(time.DateOnly)
	var errs []RowError
	fail := func(col, format string, args ...any) {
		errs = append(errs, RowError{Line: rec.line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	if n := h.width; len(rec.fields) > n {
		for _, f := range rec.fields[n:] {
			if strings.TrimSpace(f) != "" {
				fail("", "the row has %d fields, the header %d; does a value hold the delimiter without quotes?", len(rec.fields), n)
				break
			}
		}
	}
	textCell := func(col string, dst *string, max int) {
		v := unescapeFormula(h.cell(rec.fields, col))
		if err := text(v, max); err != nil {
			fail(col, "the value %s", err)
			return
		}
		*dst = v
	}
	textCell(ColExternalID, &r.ExternalID, maxExternalID)
	textCell(ColLastName, &r.LastName, maxName)
	textCell(ColFirstName, &r.FirstName, maxName)
	textCell(ColMiddleName, &r.MiddleName, maxName)
	if full := h.cell(rec.fields, colFullName); full != "" && !h.has(ColLastName) && !h.has(ColFirstName) && !h.has(ColMiddleName) {
		var name string
		textCell(colFullName, &name, 3*maxName)
		if parts := strings.Fields(name); len(parts) > 0 {
			r.LastName = parts[0]
			if len(parts) > 1 {
				r.FirstName = parts[1]
			}
			if len(parts) > 2 {
				r.MiddleName = strings.Join(parts[2:], " ")
			}
		}
	}
	if v := h.cell(rec.fields, ColPhone); v != "" {
		if p, ok := kopilka.NormalizePhone(v); ok {
			r.Phone = p
		} else {
			fail(ColPhone, "%q is not a phone number; write it like +7 912 345-67-89 or 8 912 345-67-89", v)
		}
	}
	if v := unescapeFormula(h.cell(rec.fields, ColEmail)); v != "" {
		if err := checkEmail(v); err != nil {
			fail(ColEmail, "%s", err)
		} else {
			r.Email = v
		}
	}
	if v := h.cell(rec.fields, ColBirthDate); v != "" {
		d, err := parseCellDate(v, sheet)
		switch {
		case err != nil:
			fail(ColBirthDate, "%s", err)
		case d < "1900-01-01":
			fail(ColBirthDate, "%q is before 1900", v)
		case d > today:
			fail(ColBirthDate, "%q is in the future", v)
		default:
			r.BirthDate = d
		}
	}
	if v := h.cell(rec.fields, ColGender); v != "" {
		if g, err := ParseGender(v); err != nil {
			fail(ColGender, "%s", err)
		} else {
			r.Gender = g
		}
	}
	if v := unescapeFormula(h.cell(rec.fields, ColCard)); v != "" {
		r.Cards = splitList(v, true)
		if len(r.Cards) > maxCardsInRow {
			fail(ColCard, "%d cards in one row, at most %d", len(r.Cards), maxCardsInRow)
		}
		seen := map[string]bool{}
		for _, n := range r.Cards {
			if err := kopilka.ValidateCardNumber(n); err != nil {
				fail(ColCard, "%q: %s", n, kopilka.AsError(err).Message)
			} else if seen[n] {
				fail(ColCard, "card %q is listed twice", n)
			}
			seen[n] = true
		}
	}
	amount := func(col string, negative bool) *kopilka.Amount {
		v := h.cell(rec.fields, col)
		if v == "" {
			return nil
		}
		a, err := parseCellAmount(v, sheet)
		switch {
		case err != nil:
			fail(col, "%s", err)
		case a < 0 && !negative:
			fail(col, "%q is negative", v)
		default:
			return &a
		}
		return nil
	}
	r.Balance = amount(ColBalance, true)
	r.PurchasesTotal = amount(ColPurchasesTotal, false)
	if v := unescapeFormula(h.cell(rec.fields, ColTags)); v != "" {
		r.Tags = splitList(v, false)
		for i := range r.Tags {
			r.Tags[i] = strings.TrimSpace(r.Tags[i])
		}
		r.Tags = compact(r.Tags)
		if len(r.Tags) > maxTags {
			fail(ColTags, "%d tags, at most %d", len(r.Tags), maxTags)
		}
		for _, t := range r.Tags {
			if err := text(t, maxTag); err != nil {
				fail(ColTags, "tag %q %s", t, err)
			}
		}
	}
	if r.ExternalID == "" && r.Phone == "" && len(r.Cards) == 0 && len(errs) == 0 {
		fail("", "the row has no external_id, phone or card to match it by")
	}
	// In the order of the file's columns; errors of the whole row first.
	slices.SortStableFunc(errs, func(a, b RowError) int { return h.position(a.Column) - h.position(b.Column) })
	return r, errs
}

// position is where a column stands in the file, -1 for none.
func (h *header) position(col string) int {
	if i, ok := h.index[col]; ok {
		return i
	}
	return -1
}

// formulaStarts are the first characters that make a spreadsheet read a
// CSV cell as a formula.
const formulaStarts = "=+-@"

// escapeFormula guards a text cell of a CSV export against formula
// injection: a value starting with = + - or @ gets a leading apostrophe,
// which spreadsheets show as text and imports take off again.
func escapeFormula(s string) string {
	if s != "" && strings.ContainsRune(formulaStarts, rune(s[0])) {
		return "'" + s
	}
	return s
}

// unescapeFormula undoes escapeFormula.
func unescapeFormula(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune(formulaStarts, rune(s[1])) {
		return s[1:]
	}
	return s
}

// compact drops empty items in place.
func compact(s []string) []string {
	out := s[:0]
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
