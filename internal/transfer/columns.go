// Package transfer moves customers in and out of Kopilka as files: CSV
// (UTF-8 with or without a byte-order mark, Windows-1251 or UTF-16 as
// Excel writes them; "," ";" or tab between fields, detected) and XLSX. It
// reads and checks import files row by row, names every bad line and
// column, feeds the good rows to loyalty.Service.ImportChunk in chunks,
// reports progress, runs imports in the background for the API, and
// writes the customers, balances and operations exports as streams.
//
// Import rules (the use case in loyalty holds the matching and ledger
// rules):
//
//   - The first non-empty row is the header. Column names are matched
//     without regard to case, spaces, "_" and "-", and in Russian too
//     (телефон, фамилия, имя, отчество, почта, дата рождения, пол, карта,
//     баланс, сумма покупок, теги, внешний id …). Unknown columns are
//     ignored and reported; a column named twice is an error.
//   - Every row needs an external_id, a phone or a card to be matched on
//     a later import. A key (external id, phone or card) may appear in one
//     row only.
//   - Amounts are currency units with "." or "," before at most two
//     decimals; spaces (also non-breaking and thin ones) group thousands:
//     "1 234,50" is 123450 hundredths. "," and "." never group thousands,
//     so "1,234.50" and "1,234" are refused rather than guessed.
//   - A full_name (ФИО) column is split into last, first and middle name
//     when the file has no such columns.
//   - Dates are YYYY-MM-DD or DD.MM.YYYY (and Excel date cells).
//   - Gender is male/female, м/ж, муж/жен, мужской/женский, m/f.
//   - Tags and cards are lists separated by "," or ";" (cards also by
//     spaces); exports join them with ", ".
//   - A bad file writes nothing: every row is checked first (against the
//     database too), and only a file without bad rows is then written in
//     chunks of ChunkSize rows, one transaction each. With SkipBadRows the
//     good rows are written in one pass and the bad ones reported.
package transfer

import (
	"fmt"
	"strings"
	"unicode"
)

// Column names of the customers file, in the order exports write them.
const (
	ColExternalID     = "external_id"
	ColPhone          = "phone"
	ColLastName       = "last_name"
	ColFirstName      = "first_name"
	ColMiddleName     = "middle_name"
	ColEmail          = "email"
	ColBirthDate      = "birth_date"
	ColGender         = "gender"
	ColCard           = "card"
	ColBalance        = "balance"
	ColPurchasesTotal = "purchases_total"
	ColTags           = "tags"
)

// colFullName is a column imports also accept: "Фамилия Имя Отчество" in
// one cell, split at spaces into last, first and middle name (the rest of
// the words go to the middle name) unless those columns are given.
const colFullName = "full_name"

// customerColumns are the columns of the customers file.
var customerColumns = []string{ColExternalID, ColPhone, ColLastName, ColFirstName, ColMiddleName, ColEmail,
	ColBirthDate, ColGender, ColCard, ColBalance, ColPurchasesTotal, ColTags}

// CustomerColumns returns the columns of the customers file in order.
func CustomerColumns() []string { return append([]string(nil), customerColumns...) }

// aliases maps normalised header names to columns.
var aliases = func() map[string]string {
	m := map[string]string{}
	add := func(col string, names ...string) {
		m[normHeader(col)] = col
		for _, n := range names {
			m[normHeader(n)] = col
		}
	}
	add(ColExternalID, "external id", "externalid", "ext id", "id", "внешний id", "внешний идентификатор",
		"внешний код", "код", "код клиента", "идентификатор", "id клиента")
	add(ColPhone, "phone number", "mobile", "телефон", "мобильный телефон", "номер телефона", "тел")
	add(ColLastName, "last name", "surname", "family name", "фамилия")
	add(ColFirstName, "first name", "given name", "имя")
	add(ColMiddleName, "middle name", "patronymic", "отчество")
	add(ColEmail, "e-mail", "mail", "почта", "электронная почта", "эл. почта", "эл почта", "емейл", "имейл")
	add(ColBirthDate, "birth date", "birthday", "date of birth", "дата рождения", "день рождения", "др")
	add(ColGender, "sex", "пол")
	add(ColCard, "cards", "card number", "карта", "номер карты", "карты", "дисконтная карта", "бонусная карта")
	add(ColBalance, "points", "bonus", "bonuses", "баланс", "бонусы", "баллы", "бонусный баланс", "остаток баллов",
		"остаток бонусов")
	add(ColPurchasesTotal, "purchases", "purchase total", "total purchases", "сумма покупок", "сумма продаж",
		"накопленная сумма", "сумма накоплений", "оборот")
	add(ColTags, "tag", "теги", "тег", "метки")
	add(colFullName, "full name", "фио", "ф и о", "полное имя")
	return m
}()

// normHeader folds a header cell for matching: lower case, ё as е, and
// without spaces, "_", "-", "." and a byte-order mark.
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r == 'ё':
			b.WriteRune('е')
		case r == '\uFEFF', r == '_', r == '-', r == '.', unicode.IsSpace(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// header is the mapping of a file's columns.
type header struct {
	line    int
	width   int            // cells of the header row
	index   map[string]int // column → field position
	ignored []string       // header cells that name no column
}

// parseHeader maps the cells of the header row to columns.
func parseHeader(line int, cells []string) (*header, []RowError) {
	h := &header{line: line, width: len(cells), index: map[string]int{}}
	var errs []RowError
	for i, cell := range cells {
		name := strings.TrimSpace(strings.TrimPrefix(cell, "\uFEFF"))
		if name == "" {
			continue
		}
		col, ok := aliases[normHeader(name)]
		if !ok {
			h.ignored = append(h.ignored, name)
			continue
		}
		if j, dup := h.index[col]; dup {
			errs = append(errs, RowError{Line: line, Column: col,
				Message: fmt.Sprintf("header %q names column %s again (already field %d, %q)", name, col, j+1, cells[j])})
			continue
		}
		h.index[col] = i
	}
	if len(errs) == 0 && !h.has(ColExternalID) && !h.has(ColPhone) && !h.has(ColCard) {
		errs = append(errs, RowError{Line: line,
			Message: "the header names no external_id, phone or card column; each row needs one of them to be matched"})
	}
	return h, errs
}

func (h *header) has(col string) bool {
	_, ok := h.index[col]
	return ok
}

// cell returns the trimmed value of a column in a record, "" when the
// column or the field is absent.
func (h *header) cell(rec []string, col string) string {
	i, ok := h.index[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}
