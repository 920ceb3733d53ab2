package transfer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want kopilka.Amount
		bad  bool
	}{
		{name: "Whole", in: "7", want: 700},
		{name: "Dot", in: "1234.5", want: 123450},
		{name: "Comma", in: "1234,50", want: 123450},
		{name: "SpaceGroups", in: "1 234,50", want: 123450},
		{name: "NoBreakSpaceGroups", in: "1\u00a0234\u00a0567,89", want: 123456789},
		{name: "ThinSpaceGroups", in: "12\u2009345", want: 1234500},
		{name: "Negative", in: "-10,00", want: -1000},
		{name: "UnicodeMinus", in: "−10", want: -1000},
		{name: "Ruble", in: "1 234,50 ₽", want: 123450},
		{name: "Rub", in: "99 руб.", want: 9900},
		{name: "Padded", in: "  5.05  ", want: 505},
		{name: "Zero", in: "0", want: 0},
		{name: "Max", in: "100000000000", want: kopilka.MaxAmount},
		{name: "ThreeDecimals", in: "1,234", bad: true},
		{name: "USThousands", in: "1,234.50", bad: true},
		{name: "EuropeanThousands", in: "1.234,50", bad: true},
		{name: "TwoSeparators", in: "1.2.3", bad: true},
		{name: "OddGroups", in: "12 34", bad: true},
		{name: "LongFirstGroup", in: "1234 567", bad: true},
		{name: "Letters", in: "abc", bad: true},
		{name: "Empty", in: "", bad: true},
		{name: "OnlySeparator", in: ",", bad: true},
		{name: "TrailingSeparator", in: "5.", bad: true},
		{name: "Exponent", in: "1e3", bad: true},
		{name: "Plus", in: "+5", bad: true},
		{name: "TooLarge", in: "100000000000.01", bad: true},
		{name: "Huge", in: "99999999999999999999", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAmount(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("ParseAmount(%q) = %d, nil; want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseAmount(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestParseAmountRoundTrip: what exports write, imports read back.
func TestParseAmountRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, -1, 99, 100, 123450, -123456789, kopilka.MaxAmount, -kopilka.MaxAmount} {
		if got, err := ParseAmount(money(v).String()); err != nil || got != v {
			t.Errorf("ParseAmount(money(%d).String() = %q) = %d, %v; want %d", v, money(v).String(), got, err, v)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1 234,50", "-7", "1,234.5", "₽", "0.01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAmount(s)
		if err != nil {
			return
		}
		if v > kopilka.MaxAmount || v < -kopilka.MaxAmount {
			t.Fatalf("ParseAmount(%q) = %d, outside ±MaxAmount", s, v)
		}
		if back, err := ParseAmount(money(v).String()); err != nil || back != v {
			t.Fatalf("ParseAmount(%q) = %d, but %q reads back as %d, %v", s, v, money(v).String(), back, err)
		}
	})
}

func TestParseCellAmount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		sheet bool
		want  kopilka.Amount
		bad   bool
	}{
		{in: "0.30000000000000004", sheet: true, want: 30},
		{in: "1234.5", sheet: true, want: 123450},
		{in: "1.5E-2", sheet: true, bad: true},
		{in: "1E+3", sheet: true, want: 100000},
		{in: "0.30000000000000004", bad: true},
		{in: "0.123", sheet: true, bad: true},
	}
	for _, tc := range tests {
		got, err := parseCellAmount(tc.in, tc.sheet)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("parseCellAmount(%q, %v) = %d, %v; want %d (error %v)", tc.in, tc.sheet, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		sheet    bool
	}{
		{in: "1990-05-17", want: "1990-05-17"},
		{in: "17.05.1990", want: "1990-05-17"},
		{in: "7.5.1990", want: "1990-05-07"},
		{in: "17.05.1990 0:00:00", want: "1990-05-17"},
		{in: "33010", sheet: true, want: "1990-05-17"},
		{in: "33010.5", sheet: true, want: "1990-05-17"},
		{in: "32980"},
		{in: "31.02.1990"},
		{in: "1990-02-31"},
		{in: "05/17/1990"},
		{in: "17.05.90"},
		{in: "17.05.1990 12:30"},
		{in: "yesterday"},
	}
	for _, tc := range tests {
		got, err := parseCellDate(tc.in, tc.sheet)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseCellDate(%q, %v) = %q, nil; want an error", tc.in, tc.sheet, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseCellDate(%q, %v) = %q, %v; want %q", tc.in, tc.sheet, got, err, tc.want)
		}
	}
}

func TestParseGender(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"male": "male", "М": "male", "муж": "male", "Мужской": "male", "m": "male",
		"female": "female", "ж": "female", "ЖЕН": "female", "женский": "female", "F": "female", "other": "", "": ""} {
		got, err := ParseGender(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("ParseGender(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDetectDelimiter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want rune
	}{
		{"a,b,c\n1;2;3;4;5", ','},
		{"a;b;c\n", ';'},
		{"a\tb\tc", '\t'},
		{`"a;b",c,d`, ','},
		{`"a,b,c";d;e`, ';'},
		{"phone", ','},
		{"a;b,c", ','},
	} {
		if got := detectDelimiter([]byte(tc.in)); got != tc.want {
			t.Errorf("detectDelimiter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	text := "Фамилия;Имя\nЁлкина;Анна\n"
	cp1251, err := charmap.Windows1251.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	// A file whose first sniffSize bytes end in the middle of a letter
	// is still UTF-8.
	cut := strings.Repeat("я", sniffSize/2) + text
	tests := []struct {
		name, in, enc, want string
	}{
		{"UTF8", text, encUTF8, text},
		{"UTF8BOM", "\xEF\xBB\xBF" + text, encUTF8, text},
		{"Windows1251", cp1251, encCP1251, text},
		{"UTF16LE", utf16, encUTF16LE, text},
		{"UTF8CutRune", "x" + cut, encUTF8, "x" + cut},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, enc := decode(bufio.NewReaderSize(strings.NewReader(tc.in), sniffSize))
			got, err := io.ReadAll(r)
			if err != nil || enc != tc.enc || string(got) != tc.want {
				t.Errorf("decode(%s) = %q, %s, %v; want %q, %s", tc.name, got[:min(len(got), 40)], enc, err, tc.want[:min(len(tc.want), 40)], tc.enc)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	h, errs := parseHeader(1, []string{"\uFEFFВнешний ID", "ТЕЛЕФОН", "Фамилия", "имя", "Отчество", "E-mail", "Дата рождения",
		"Пол", "Номер карты", "Бонусы", "Сумма покупок", "Теги", "Комментарий", ""})
	if len(errs) > 0 {
		t.Fatalf("parseHeader(Russian names) = %v", errs)
	}
	want := map[string]int{ColExternalID: 0, ColPhone: 1, ColLastName: 2, ColFirstName: 3, ColMiddleName: 4, ColEmail: 5,
		ColBirthDate: 6, ColGender: 7, ColCard: 8, ColBalance: 9, ColPurchasesTotal: 10, ColTags: 11}
	if d := cmp.Diff(want, h.index); d != "" {
		t.Errorf("parseHeader(Russian names) mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"Комментарий"}, h.ignored); d != "" {
		t.Errorf("parseHeader ignored mismatch (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name  string
		cells []string
		col   string
	}{
		{"Twice", []string{"phone", "Телефон"}, ColPhone},
		{"NoKey", []string{"first_name", "balance"}, ""},
	} {
		if _, errs := parseHeader(3, tc.cells); len(errs) != 1 || errs[0].Line != 3 || errs[0].Column != tc.col {
			t.Errorf("parseHeader(%s %q) = %v, want one error on line 3 column %q", tc.name, tc.cells, errs, tc.col)
		}
	}
}

func TestParseRow(t *testing.T) {
	t.Parallel()
	h, errs := parseHeader(1, CustomerColumns())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	amount := func(v kopilka.Amount) *kopilka.Amount { return &v }
	good := []string{"E1", "8 (912) 345-67-89", "Иванова", "Анна", "Петровна", "anna@example.com", "17.05.1990", "ж",
		"CARD-1; CARD-2", "1 234,50", "10000", "vip, кофе"}
	row, errs := h.parseRow(record{line: 2, fields: good}, false, now)
	want := loyalty.ImportRow{Line: 2, ExternalID: "E1", Phone: "+79123456789", LastName: "Иванова", FirstName: "Анна",
		MiddleName: "Петровна", Email: "anna@example.com", BirthDate: "1990-05-17", Gender: "female",
		Cards: []string{"CARD-1", "CARD-2"}, Tags: []string{"vip", "кофе"}, Balance: amount(123450), PurchasesTotal: amount(1000000)}
	if len(errs) > 0 || !cmp.Equal(want, row) {
		t.Errorf("parseRow(good) = %v, %v; want %+v, no errors\n%s", row, errs, want, cmp.Diff(want, row))
	}
	with := func(col, v string) []string {
		f := append([]string(nil), good...)
		f[h.index[col]] = v
		return f
	}
	tests := []struct {
		name   string
		fields []string
		cols   []string // the columns named by the errors, in order
	}{
		{"Phone", with(ColPhone, "8 912"), []string{ColPhone}},
		{"Email", with(ColEmail, "anna@"), []string{ColEmail}},
		{"Date", with(ColBirthDate, "31.02.1990"), []string{ColBirthDate}},
		{"FutureDate", with(ColBirthDate, "2030-01-01"), []string{ColBirthDate}},
		{"OldDate", with(ColBirthDate, "1800-01-01"), []string{ColBirthDate}},
		{"Gender", with(ColGender, "x"), []string{ColGender}},
		{"Balance", with(ColBalance, "12,345"), []string{ColBalance}},
		{"NegativePurchases", with(ColPurchasesTotal, "-1"), []string{ColPurchasesTotal}},
		{"Card", with(ColCard, "CARD-1, CARD-1"), []string{ColCard}},
		{"LongName", with(ColFirstName, strings.Repeat("я", 201)), []string{ColFirstName}},
		{"LongTag", with(ColTags, strings.Repeat("t", 65)), []string{ColTags}},
		{"TwoBad", with(ColPhone, "x"), []string{ColPhone}},
		{"NoKey", []string{"", "", "Иванова"}, []string{""}},
		{"ExtraFields", append(append([]string(nil), good...), "spill"), []string{""}},
		{"NotUTF8", with(ColLastName, "\xff\xfe"), []string{ColLastName}},
	}
	tests[11].fields = with(ColEmail, "x")
	tests[11].fields[h.index[ColPhone]] = "x"
	tests[11].cols = []string{ColPhone, ColEmail}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := h.parseRow(record{line: 9, fields: tc.fields}, false, now)
			var cols []string
			for _, e := range errs {
				if e.Line != 9 {
					t.Errorf("parseRow(%s) error %+v, want line 9", tc.name, e)
				}
				cols = append(cols, e.Column)
			}
			if d := cmp.Diff(tc.cols, cols); d != "" {
				t.Errorf("parseRow(%s) errors %v: columns mismatch (-want +got):\n%s", tc.name, errs, d)
			}
		})
	}
}

func TestFullName(t *testing.T) {
	t.Parallel()
	h, _ := parseHeader(1, []string{"ФИО", "Телефон"})
	row, errs := h.parseRow(record{line: 2, fields: []string{"Салтыков-Щедрин Михаил Евграфович оглы", "89123456789"}}, false, time.Now())
	if len(errs) > 0 || row.LastName != "Салтыков-Щедрин" || row.FirstName != "Михаил" || row.MiddleName != "Евграфович оглы" {
		t.Errorf("parseRow(ФИО) = %+v, %v; want the name split in three", row, errs)
	}
}

func TestFormulaEscape(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"=HYPERLINK(\"x\")", "+7", "-x", "@SUM(A1)", "plain", "'quoted", ""} {
		esc := escapeFormula(s)
		if esc != "" && strings.ContainsRune(formulaStarts, rune(esc[0])) {
			t.Errorf("escapeFormula(%q) = %q, still starts a formula", s, esc)
		}
		if got := unescapeFormula(esc); got != s {
			t.Errorf("unescapeFormula(escapeFormula(%q) = %q) = %q", s, esc, got)
		}
	}
}

// readAll reads every record of a CSV file, checking that lines rise.
func readAll(data []byte) ([]record, error) {
	r, err := newCSVReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out []record
	last := 0
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if rec.line <= last {
			return out, errors.New("lines do not rise")
		}
		last = rec.line
		out = append(out, record{line: rec.line, fields: append([]string(nil), rec.fields...)})
	}
}

func TestCSVReader(t *testing.T) {
	t.Parallel()
	data := []byte("\xEF\xBB\xBFphone;name\r\n\"+7 912\n000-00-01\";\"Ан\"\"на\"\r\n\r\n89120000002;ООО \"Ромашка\"\r\n")
	got, err := readAll(data)
	want := []record{{1, []string{"phone", "name"}}, {2, []string{"+7 912\n000-00-01", "Ан\"на"}}, {5, []string{"89120000002", "ООО \"Ромашка\""}}}
	if err != nil || !cmp.Equal(want, got, cmp.AllowUnexported(record{})) {
		t.Errorf("readAll = %v, %v; want %v", got, err, want)
	}
}

// FuzzCSVReader feeds arbitrary bytes to the CSV reader and the row
// checks: no panic, lines that rise, and every error naming a line.
func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("phone;balance\n89120000001;1 234,50\n"))
	f.Add([]byte("\xEF\xBB\xBFexternal_id,phone\n\"a\"\"b\",+7 912\n"))
	f.Add([]byte("\xff\xfeA\x00,\x00B\x00"))
	f.Add([]byte("\"unterminated,\n1,2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readAll(data)
		if err != nil && err.Error() == "lines do not rise" {
			t.Fatalf("readAll(%q): lines do not rise", data)
		}
		if len(recs) == 0 {
			return
		}
		h, errs := parseHeader(recs[0].line, recs[0].fields)
		if len(errs) > 0 {
			return
		}
		for _, rec := range recs[1:] {
			row, errs := h.parseRow(rec, false, time.Now())
			for _, e := range errs {
				if e.Line != rec.line || e.Message == "" {
					t.Fatalf("parseRow(%q) error %+v, want line %d and a message", rec.fields, e, rec.line)
				}
			}
			if len(errs) == 0 && row.ExternalID == "" && row.Phone == "" && len(row.Cards) == 0 {
				t.Fatalf("parseRow(%q) = %+v without errors and without a key", rec.fields, row)
			}
		}
	})
}
