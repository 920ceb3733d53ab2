package transfer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
	"github.com/kopilka/kopilka/internal/transfer"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one test's database, clock and service.
type env struct {
	ctx   context.Context
	clock *clock
	svc   *loyalty.Service
	dir   string
}

func newEnv(t *testing.T, dialect string) *env {
	t.Helper()
	c := &clock{now: t0}
	db := storagetest.Open(t, dialect, sqldb.Options{Clock: c.Now})
	e := &env{ctx: context.Background(), clock: c, svc: loyalty.New(db, c.Now, nil), dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		diffs, _, err := e.svc.Verify(e.ctx)
		if err != nil || len(diffs) > 0 {
			t.Errorf("Verify() = %v, %v; want no differences", diffs, err)
		}
	})
	return e
}

// tenant makes a tenant with a programme: points expire after a year,
// Silver from 10 000.00 of purchases.
func (e *env) tenant(t *testing.T, name string) string {
	t.Helper()
	ten, _, err := e.svc.CreateTenant(e.ctx, name)
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	p := kopilka.DefaultProgram()
	p.ExpiryDays = 365
	p.Tiers = append(p.Tiers, kopilka.Tier{Name: "Silver", Threshold: 1000000})
	if err := e.svc.SetProgram(e.ctx, ten.ID, &p); err != nil {
		t.Fatalf("SetProgram: %v", err)
	}
	return ten.ID
}

func (e *env) file(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (e *env) importFile(t *testing.T, tenantID, path string, opt transfer.Options) *transfer.Report {
	t.Helper()
	opt.Now = e.clock.Now
	rep, err := transfer.Import(e.ctx, e.svc, tenantID, path, opt)
	if err != nil {
		t.Fatalf("Import(%s) = %v", filepath.Base(path), err)
	}
	return rep
}

// export returns a tenant's customers export, header first, the rows
// sorted.
func (e *env) export(t *testing.T, tenantID string) [][]string {
	t.Helper()
	var b bytes.Buffer
	if _, err := transfer.ExportCustomers(e.ctx, e.svc, tenantID, transfer.CSV, &b); err != nil {
		t.Fatalf("ExportCustomers: %v", err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("read export: %v", err)
	}
	slices.SortFunc(rows[1:], func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
	return rows
}

// operations counts a tenant's operations.
func (e *env) operations(t *testing.T, tenantID string) int64 {
	t.Helper()
	from, to, _ := transfer.ParsePeriod("", "", time.UTC)
	n, err := transfer.ExportOperations(e.ctx, e.svc, tenantID, from, to, transfer.CSV, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("ExportOperations: %v", err)
	}
	return n
}

const header = "external_id,phone,last_name,first_name,middle_name,email,birth_date,gender,card,balance,purchases_total,tags\n"

// people is a customers file with a bit of everything.
const people = header +
	"E1,8 912 000-00-01,Иванова,Анна,Петровна,anna@example.com,17.05.1990,ж,CARD-1,\"1 234,50\",15000,\"vip, кофе\"\n" +
	"E2,+7 912 000 00 02,Петров,Борис,,,1985-01-02,male,\"CARD-2, CARD-3\",0,,\n" +
	"E3,,Сидоров,,,,,,CARD-4,-10.00,5,\n" +
	",89120000004,=Formula,,,,,,,7,,\n"

func TestImportRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			a := e.tenant(t, "A")
			if rep := e.importFile(t, a, e.file(t, "people.csv", []byte(people)), transfer.Options{}); rep.Bad > 0 || rep.Created != 4 {
				t.Fatalf("Import(people) = %+v, want 4 created", rep)
			}
			// A customer made through the API, with no external id.
			c, err := e.svc.CreateCustomer(e.ctx, a, loyalty.CustomerInput{Card: "API-1", Customer: kopilka.Customer{
				FirstName: "Вера", Phone: "+79120000009", Tags: []string{"api"}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Adjust(e.ctx, a, c.ID, loyalty.AdjustInput{Amount: 555, Reason: "goodwill"}, nil); err != nil {
				t.Fatal(err)
			}
			want := e.export(t, a)
			if len(want) != 6 {
				t.Fatalf("export of A = %d rows, want the header and 5 customers", len(want))
			}
			for _, format := range []transfer.Format{transfer.CSV, transfer.XLSX} {
				var b bytes.Buffer
				if _, err := transfer.ExportCustomers(e.ctx, e.svc, a, format, &b); err != nil {
					t.Fatalf("ExportCustomers(%s): %v", format, err)
				}
				other := e.tenant(t, "copy "+string(format))
				rep := e.importFile(t, other, e.file(t, "a."+string(format), b.Bytes()), transfer.Options{})
				if rep.Bad > 0 || rep.Created != 5 || rep.Format != format {
					t.Fatalf("Import(export of A as %s) = %+v, want 5 created", format, rep)
				}
				if d := cmp.Diff(want, e.export(t, other)); d != "" {
					t.Errorf("export of the tenant imported from A's %s export mismatch (-A +copy):\n%s", format, d)
				}
				// And the copy imports into itself without a change.
				var again bytes.Buffer
				if _, err := transfer.ExportCustomers(e.ctx, e.svc, other, format, &again); err != nil {
					t.Fatal(err)
				}
				ops := e.operations(t, other)
				rep = e.importFile(t, other, e.file(t, "again."+string(format), again.Bytes()), transfer.Options{})
				if rep.Unchanged != 5 || rep.Created+rep.Updated+rep.Bad != 0 || e.operations(t, other) != ops {
					t.Errorf("Import(own export as %s) = %+v, %d operations (want %d); want 5 unchanged", format, rep, e.operations(t, other), ops)
				}
			}
		})
	}
}

// TestImportBalances checks the ledger side: balances, tiers, expiry,
// debt, and that a re-import moves only the difference.
func TestImportBalances(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			ten := e.tenant(t, "T")
			e.importFile(t, ten, e.file(t, "people.csv", []byte(people)), transfer.Options{})
			find := func(ext string) *kopilka.Customer {
				t.Helper()
				c, _, err := e.svc.FindCustomer(e.ctx, ten, loyalty.Ref{Card: map[string]string{"E1": "CARD-1", "E2": "CARD-2", "E3": "CARD-4"}[ext]})
				if err != nil {
					t.Fatalf("FindCustomer(%s): %v", ext, err)
				}
				return c
			}
			balance := func(ext string) *kopilka.Balance {
				t.Helper()
				b, err := e.svc.Balance(e.ctx, ten, find(ext).ID)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			b1 := balance("E1")
			wantExpiry := t0.AddDate(0, 0, 365)
			if b1.Available != 123450 || b1.Tier != "Silver" || b1.PurchasesTotal != 1500000 ||
				len(b1.Expiring) != 1 || !b1.Expiring[0].ExpiresAt.Equal(wantExpiry) {
				t.Errorf("Balance(E1) = %+v, want 123450 available, Silver, expiring at %v", b1, wantExpiry)
			}
			if b3 := balance("E3"); b3.Available != -1000 || b3.Debt != 1000 || b3.Tier != "Base" {
				t.Errorf("Balance(E3) = %+v, want -1000 available (a debt of 1000), Base", b3)
			}
			if c := find("E2"); len(c.Cards) != 2 {
				t.Errorf("E2 cards = %v, want CARD-2 and CARD-3", c.Cards)
			}
			ops := e.operations(t, ten)
			if ops != 3 { // E1, E3 and the phone-only row; E2's 0 makes none
				t.Errorf("operations after the import = %d, want 3", ops)
			}
			e.clock.Advance(24 * time.Hour)
			moved := header + "E1,,,,,,,,,1000,,\nE3,,,,,,,,,20,,\nE2,,,,,,,,,,20000,\n"
			rep := e.importFile(t, ten, e.file(t, "moved.csv", []byte(moved)), transfer.Options{})
			if rep.Updated != 3 || rep.Bad != 0 {
				t.Fatalf("Import(moved) = %+v, want 3 updated", rep)
			}
			if b := balance("E1"); b.Available != 100000 {
				t.Errorf("Balance(E1) after lowering it = %+v, want 100000", b)
			}
			if b := balance("E3"); b.Available != 2000 || b.Debt != 0 {
				t.Errorf("Balance(E3) after raising it = %+v, want 2000 and no debt", b)
			}
			if b := balance("E2"); b.Tier != "Silver" || b.Available != 0 {
				t.Errorf("Balance(E2) after its purchase sum = %+v, want Silver", b)
			}
			if got := e.operations(t, ten); got != ops+2 {
				t.Errorf("operations after the second import = %d, want %d", got, ops+2)
			}
			// Names kept: an empty cell leaves a field as it was.
			if c := find("E1"); c.FirstName != "Анна" || c.Email != "anna@example.com" || !slices.Equal(c.Tags, []string{"vip", "кофе"}) {
				t.Errorf("E1 after a balance-only import = %+v, want the profile kept", c)
			}
			hist, err := e.svc.CustomerHistory(e.ctx, ten, find("E1").ID, 0, 10)
			if err != nil || len(hist) != 0 {
				t.Errorf("CustomerHistory(E1) = %v, %v; want no profile changes", hist, err)
			}
			// A profile change goes to the history.
			rep = e.importFile(t, ten, e.file(t, "renamed.csv", []byte(header+"E1,,,Аня,,,,,,,,\n")), transfer.Options{})
			hist, err = e.svc.CustomerHistory(e.ctx, ten, find("E1").ID, 0, 10)
			if err != nil || rep.Updated != 1 || len(hist) != 1 || hist[0].Field != "first_name" || hist[0].NewValue != "Аня" || hist[0].Actor != "import" {
				t.Errorf("after a rename: report %+v, history %+v, %v; want one first_name change by import", rep, hist, err)
			}
		})
	}
}

// badFile is a file with the errors the import must report.
type badFile struct {
	name string
	data string
	want []transfer.RowError // line and column of each error; messages not compared
}

func TestImportBadFiles(t *testing.T) {
	t.Parallel()
	tests := []badFile{
		{"Phone", header + "E1,8 912,,,,,,,,,,\nE2,89120000002,,,,,,,,,,\n", []transfer.RowError{{Line: 2, Column: "phone"}}},
		{"SeveralCells", header + "E1,x,,,,bad@,,x,,1.234,,\n", []transfer.RowError{{Line: 2, Column: "phone"},
			{Line: 2, Column: "email"}, {Line: 2, Column: "gender"}, {Line: 2, Column: "balance"}}},
		{"SeveralRows", header + "E1,,,,,,,,,abc,,\n\nE2,,,,,,31.13.1990,,,,,\n", []transfer.RowError{{Line: 2, Column: "balance"},
			{Line: 4, Column: "birth_date"}}},
		{"RepeatedPhone", header + "E1,89120000001,,,,,,,,,,\nE2,+79120000001,,,,,,,,,,\n", []transfer.RowError{{Line: 3, Column: "phone"}}},
		{"RepeatedExternalID", header + "E1,,,,,,,,,,,\nE1,,,,,,,,,,,\n", []transfer.RowError{{Line: 3, Column: "external_id"}}},
		{"RepeatedCard", header + "E1,,,,,,,,C1,,,\nE2,,,,,,,,\"C2; C1\",,,\n", []transfer.RowError{{Line: 3, Column: "card"}}},
		{"NoKey", header + ",,Иванов,,,,,,,,,\n", []transfer.RowError{{Line: 2}}},
		{"HeaderTwice", "phone,телефон\n1,2\n", []transfer.RowError{{Line: 1, Column: "phone"}}},
		{"NoKeyColumn", "first_name,balance\nАнна,1\n", []transfer.RowError{{Line: 1}}},
		{"Empty", "", []transfer.RowError{{}}},
		{"OnlyBlankLines", "\n\n", []transfer.RowError{{}}},
		{"Unterminated", header + "E1,\"8912,,,,,,,,,,\n", []transfer.RowError{{Line: 2, Column: "phone"}}},
		{"Spill", "phone,balance\n89120000001,1,5\n", []transfer.RowError{{Line: 2}}},
		{"MultilineRecord", "phone,first_name\n89120000001,Анна\n\"8912\n0000002\",x\n8,\"a\nb\"\n", []transfer.RowError{
			{Line: 3, Column: "phone"}, {Line: 5, Column: "phone"}, {Line: 5, Column: "first_name"}}},
		{"XLSXAsCSV", "PK\x03\x04rest", []transfer.RowError{{}}},
	}
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ten := e.tenant(t, tc.name)
					opt := transfer.Options{}
					if tc.name == "XLSXAsCSV" {
						opt.Format = transfer.CSV
					}
					rep := e.importFile(t, ten, e.file(t, tc.name+".csv", []byte(tc.data)), opt)
					checkErrors(t, tc.name, rep, tc.want)
					if rep.Written || len(e.export(t, ten)) != 1 {
						t.Errorf("Import(%s) wrote rows (report %+v)", tc.name, rep)
					}
				})
			}
		})
	}
}

// checkErrors compares a report's errors by line and column.
func checkErrors(t *testing.T, name string, rep *transfer.Report, want []transfer.RowError) {
	t.Helper()
	var got []transfer.RowError
	for _, e := range rep.Errors {
		if e.Message == "" {
			t.Errorf("Import(%s) error %+v has no message", name, e)
		}
		got = append(got, transfer.RowError{Line: e.Line, Column: e.Column})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Import(%s) errors %+v mismatch (-want +got):\n%s", name, rep.Errors, d)
	}
	if rep.Bad == 0 {
		t.Errorf("Import(%s).Bad = 0, want the bad rows counted", name)
	}
}

// refused imports data into the tenant and checks that the import reports
// want and leaves the tenant as it was.
func (e *env) refused(t *testing.T, tenantID, name, data string, opt transfer.Options, want []transfer.RowError) {
	t.Helper()
	before := e.export(t, tenantID)
	rep := e.importFile(t, tenantID, e.file(t, "refused.csv", []byte(data)), opt)
	checkErrors(t, name, rep, want)
	if d := cmp.Diff(before, e.export(t, tenantID)); d != "" || rep.Written {
		t.Errorf("Import(%s) changed the tenant (-before +after):\n%s", name, d)
	}
}

// TestImportConflicts: rows that clash with the database are bad rows
// too, and the good rows of such a file are not written either.
func TestImportConflicts(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			ten := e.tenant(t, "T")
			e.importFile(t, ten, e.file(t, "people.csv", []byte(people)), transfer.Options{})
			tests := []badFile{
				{"PhoneOfAnother", header + "E1,89120000002,,,,,,,,,,\nNEW,89120000077,,,,,,,,,,\n", []transfer.RowError{{Line: 2, Column: "phone"}}},
				{"CardOfAnother", header + "E1,,,,,,,,CARD-4,,,\n", []transfer.RowError{{Line: 2, Column: "card"}}},
				{"OtherExternalID", header + "E9,89120000001,,,,,,,,,,\n", []transfer.RowError{{Line: 2, Column: "external_id"}}},
				{"SameCustomerTwice", header + "E1,,,,,,,,,,,\n,,,,,,,,CARD-1,5,,\n", []transfer.RowError{{Line: 3, Column: "card"}}},
			}
			for _, tc := range tests {
				e.refused(t, ten, tc.name, tc.data, transfer.Options{}, tc.want)
			}
		})
	}
}

// TestImportRetiredCard imports a row naming the card of a deleted
// customer: the number stays taken for good, so the row is bad (line and
// column), not a database error at the write, and --skip-bad-rows writes
// the rest.
func TestImportRetiredCard(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			ten := e.tenant(t, "T")
			e.importFile(t, ten, e.file(t, "people.csv", []byte(people)), transfer.Options{})
			holder, _, err := e.svc.FindCustomer(e.ctx, ten, loyalty.Ref{Card: "CARD-4"})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.DeleteCustomer(e.ctx, ten, holder.ID); err != nil {
				t.Fatal(err)
			}
			data := header + "NEW,89120000077,,,,,,,,1,,\n,,,,,,,,CARD-4,5,,\n"
			for _, dry := range []bool{true, false} {
				e.refused(t, ten, fmt.Sprintf("retired card, dry run %v", dry), data, transfer.Options{DryRun: dry},
					[]transfer.RowError{{Line: 3, Column: "card"}})
			}
			rep := e.importFile(t, ten, e.file(t, "retired.csv", []byte(data)), transfer.Options{SkipBadRows: true})
			checkErrors(t, "retired card, skipping", rep, []transfer.RowError{{Line: 3, Column: "card"}})
			if rep.Created != 1 || !rep.Written {
				t.Errorf("Import(retired card, skipping) = %+v, want the good row created", rep)
			}
		})
	}
}

// TestImportCheckDigit refuses a card number of a range with check
// digits whose check digit is wrong, as issuing a given number does.
func TestImportCheckDigit(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			ten := e.tenant(t, "T")
			if _, err := e.svc.CreateCardRange(e.ctx, ten, loyalty.RangeInput{Prefix: "46", Width: 6, CheckDigit: kopilka.CheckLuhn}); err != nil {
				t.Fatal(err)
			}
			e.refused(t, ten, "typo", header+"L1,,,,,,,,460000012,,,\n", transfer.Options{}, []transfer.RowError{{Line: 2, Column: "card"}})
			rep := e.importFile(t, ten, e.file(t, "good.csv", []byte(header+"L1,,,,,,,,460000011,,,\n")), transfer.Options{})
			if rep.Created != 1 || rep.Bad != 0 {
				t.Errorf("Import(good check digit) = %+v, want 1 created", rep)
			}
		})
	}
}

func TestImportDryRunAndSkip(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			ten := e.tenant(t, "T")
			path := e.file(t, "people.csv", []byte(people))
			rep := e.importFile(t, ten, path, transfer.Options{DryRun: true})
			if rep.Created != 4 || rep.Written || len(e.export(t, ten)) != 1 || !strings.HasPrefix(rep.Summary(), "dry run") {
				t.Errorf("Import(dry run) = %+v, %q; want 4 to create and nothing written", rep, rep.Summary())
			}
			e.importFile(t, ten, path, transfer.Options{})
			mixed := header + "E1,,,,,,,,,1,,\nE2,,,,,,,,,x,,\nE9,89120000099,,,,,,,,,,\nE3,,,,,,,,,-10,,\n"
			mp := e.file(t, "mixed.csv", []byte(mixed))
			before := e.export(t, ten)
			rep = e.importFile(t, ten, mp, transfer.Options{DryRun: true, SkipBadRows: true})
			want := transfer.Report{Format: transfer.CSV, Rows: 4, Created: 1, Updated: 1, Unchanged: 1, Bad: 1,
				Errors: []transfer.RowError{{Line: 3, Column: "balance"}}, DryRun: true, SkipBadRows: true}
			checkReport(t, "dry run, skip bad rows", rep, want)
			if d := cmp.Diff(before, e.export(t, ten)); d != "" {
				t.Errorf("a dry run changed the tenant (-before +after):\n%s", d)
			}
			rep = e.importFile(t, ten, mp, transfer.Options{SkipBadRows: true})
			want.DryRun, want.Written = false, true
			checkReport(t, "skip bad rows", rep, want)
			if got := len(e.export(t, ten)); got != 6 {
				t.Errorf("customers after skipping bad rows = %d, want 5", got-1)
			}
		})
	}
}

func checkReport(t *testing.T, name string, got *transfer.Report, want transfer.Report) {
	t.Helper()
	g := *got
	for i := range g.Errors {
		g.Errors[i].Message = ""
	}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("Import(%s) report mismatch (-want +got):\n%s", name, d)
	}
}

// TestImportEncodings reads what Excel in a Russian locale writes.
func TestImportEncodings(t *testing.T) {
	t.Parallel()
	text := "Внешний ID;Телефон;Фамилия;Имя;Баланс;Сумма покупок\r\nЁ-1;8 (912) 000-00-01;Ёлкина;Анна;\"1 234,50\";100\r\n"
	cp1251, err := charmap.Windows1251.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(strings.ReplaceAll(text, ";", "\t"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Windows1251Semicolon": cp1251,
		"UTF8BOMSemicolon":     "\xEF\xBB\xBF" + text,
		"UTF8Comma":            strings.ReplaceAll(strings.ReplaceAll(text, ";", ","), "\"1 234,50\"", "1234.50"),
		"UTF16Tab":             utf16,
	}
	want := [][]string{strings.Split(strings.TrimSuffix(header, "\n"), ","),
		{"Ё-1", "+79120000001", "Ёлкина", "Анна", "", "", "", "", "", "1234.50", "100.00", ""}}
	e := newEnv(t, "sqlite")
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ten := e.tenant(t, name)
			rep := e.importFile(t, ten, e.file(t, name+".csv", []byte(data)), transfer.Options{})
			if rep.Created != 1 || rep.Bad != 0 {
				t.Fatalf("Import(%s) = %+v, want 1 created", name, rep)
			}
			if d := cmp.Diff(want, e.export(t, ten)); d != "" {
				t.Errorf("Import(%s) export mismatch (-want +got):\n%s", name, d)
			}
		})
	}
}

// TestImportXLSX reads a workbook as people make them: numbers and dates
// as cells of their own types, on the sheet that is active.
func TestImportXLSX(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	defer f.Close()
	if _, err := f.NewSheet("Клиенты"); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"Телефон", "Фамилия", "Дата рождения", "Пол", "Номер карты", "Бонусы", "Сумма покупок"},
		{79120000001, "Иванова", time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), "ж", 4600000000001, 1234.5, 0.1 + 0.2},
		{},
		{"8 912 000-00-02", "Петров", "17.05.1985", "м", "C-2", "10", nil},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Клиенты", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	style, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err := f.SetCellStyle("Клиенты", "C2", "C2", style); err != nil {
		t.Fatal(err)
	}
	idx, _ := f.GetSheetIndex("Клиенты")
	f.SetActiveSheet(idx)
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			ten := e.tenant(t, "T")
			rep := e.importFile(t, ten, e.file(t, "people.xlsx", b.Bytes()), transfer.Options{})
			if rep.Created != 2 || rep.Bad != 0 || rep.Format != transfer.XLSX {
				t.Fatalf("Import(xlsx) = %+v, want 2 created", rep)
			}
			want := [][]string{strings.Split(strings.TrimSuffix(header, "\n"), ","),
				{"", "+79120000001", "Иванова", "", "", "", "1990-05-17", "female", "4600000000001", "1234.50", "0.30", ""},
				{"", "+79120000002", "Петров", "", "", "", "1985-05-17", "male", "C-2", "10.00", "0.00", ""}}
			got := e.export(t, ten)
			for _, r := range got[1:] {
				r[0] = "" // Kopilka's own ids
			}
			slices.SortFunc(got[1:], func(a, b []string) int { return strings.Compare(a[1], b[1]) })
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Import(xlsx) export mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestExportOperationsPeriod: the period bounds, by day in the
// programme's time zone.
func TestExportOperationsPeriod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	ten := e.tenant(t, "T")
	for i := range 3 {
		data := header + "E" + string(rune('1'+i)) + ",,,,,,,,," + string(rune('1'+i)) + ",,\n"
		e.importFile(t, ten, e.file(t, "day.csv", []byte(data)), transfer.Options{})
		e.clock.Advance(24 * time.Hour)
	}
	moscow, _ := time.LoadLocation("Europe/Moscow")
	for _, tc := range []struct {
		from, to string
		want     int64
	}{
		{"", "", 3},
		{"2026-03-01", "2026-03-01", 1},
		{"2026-03-02", "", 2},
		{"", "2026-03-02", 2},
		{"2026-03-02T10:00:00Z", "2026-03-02T10:00:00.000001Z", 1},
		{"2026-03-04", "", 0},
	} {
		from, to, err := transfer.ParsePeriod(tc.from, tc.to, moscow)
		if err != nil {
			t.Fatalf("ParsePeriod(%q, %q) = %v", tc.from, tc.to, err)
		}
		var b bytes.Buffer
		n, err := transfer.ExportOperations(e.ctx, e.svc, ten, from, to, transfer.CSV, &b)
		if err != nil || n != tc.want {
			t.Errorf("ExportOperations(%q, %q) = %d, %v; want %d", tc.from, tc.to, n, err, tc.want)
		}
	}
	for _, bad := range [][2]string{{"yesterday", ""}, {"", "2026-13-01"}, {"2026-03-02", "2026-03-01"}} {
		if _, _, err := transfer.ParsePeriod(bad[0], bad[1], moscow); kopilka.ErrorCode(err) != kopilka.CodeInvalidRequest {
			t.Errorf("ParsePeriod(%q, %q) = %v, want invalid_request", bad[0], bad[1], err)
		}
	}
}

func TestExportBalancesXLSX(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	ten := e.tenant(t, "T")
	e.importFile(t, ten, e.file(t, "people.csv", []byte(people)), transfer.Options{})
	var b bytes.Buffer
	n, err := transfer.ExportBalances(e.ctx, e.svc, ten, transfer.XLSX, &b)
	if err != nil || n != 4 {
		t.Fatalf("ExportBalances(xlsx) = %d, %v; want 4", n, err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("balances")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"external_id", "phone", "card", "balance", "pending", "reserved", "purchases_total", "tier"}
	if len(rows) != 5 || !slices.Equal(rows[0], want) {
		t.Fatalf("balances sheet = %v, want the header %v and 4 rows", rows, want)
	}
	found := false
	for _, r := range rows[1:] {
		if r[0] == "E1" {
			found = true
			if r[3] != "1234.50" || r[7] != "Silver" {
				t.Errorf("balances row of E1 = %v, want 1234.50 and Silver", r)
			}
		}
	}
	if !found {
		t.Errorf("balances sheet %v has no E1", rows)
	}
}

// TestImportFullStatements imports chunks large enough that the customers
// INSERT fills whole statements of its most rows, the ones the writer
// prepares once and keeps: twice, into two tenants, so that the second
// import runs them prepared. (Preparing on SQLite's only writer
// connection from inside the import's own transaction once waited for
// that connection forever.)
func TestImportFullStatements(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dialect)
			const rows = 2600 // more than 30,000 parameters ÷ 24 columns
			var b strings.Builder
			b.WriteString(header)
			for i := range rows {
				fmt.Fprintf(&b, "F%05d,+7913%07d,Фамилия,Имя,,f%d@example.com,,,FC-%05d,%d.%02d,,\n", i, i, i, i, i%100, i%100)
			}
			path := e.file(t, "many.csv", []byte(b.String()))
			for _, name := range []string{"first", "second"} {
				ten := e.tenant(t, name)
				ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
				rep, err := transfer.Import(ctx, e.svc, ten, path, transfer.Options{Now: e.clock.Now, ChunkSize: rows})
				cancel()
				if err != nil || rep.Bad > 0 || rep.Created != rows {
					t.Fatalf("Import into the %s tenant = %+v, %v; want %d created", name, rep, err, rows)
				}
				got := e.export(t, ten)
				if len(got) != rows+1 {
					t.Fatalf("export of the %s tenant = %d rows, want the header and %d customers", name, len(got), rows)
				}
			}
		})
	}
}

// TestImportFileChanged: a file changed between the check and the import
// is refused, and nothing of it is written (the import pass trusts the
// check).
func TestImportFileChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	ten := e.tenant(t, "changed")
	path := e.file(t, "people.csv", []byte(people))
	touched := false
	rep, err := transfer.Import(e.ctx, e.svc, ten, path, transfer.Options{Now: e.clock.Now, Progress: func(p transfer.Progress) {
		if p.Phase == transfer.PhaseChecking && !touched {
			touched = true
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Error(err)
			}
		}
	}})
	if !errors.Is(err, transfer.ErrChanged) || rep != nil {
		t.Fatalf("Import of a file changed after its check = %+v, %v; want ErrChanged", rep, err)
	}
	if got := e.export(t, ten); len(got) != 1 {
		t.Errorf("export after the refused import = %d rows, want the header only", len(got))
	}
}

// TestImportFresh writes chunks without their lookups (what an import
// does after a check that matched no row to a customer) whose rows name
// customers that exist by now: by phone, external id and card, as if
// registered at a till between the check and the writes. The database's
// unique keys refuse the first try and the chunk is planned again with
// the lookup, so the outcome is the one a chunk with its lookup has.
func TestImportFresh(t *testing.T) {
	t.Parallel()
	amount := func(v kopilka.Amount) *kopilka.Amount { return &v }
	newRow := loyalty.ImportRow{Line: 2, ExternalID: "NEW1", Phone: "+79120000077", LastName: "Новикова", Balance: amount(500)}
	for _, dialect := range storagetest.Dialects {
		for _, tc := range []struct {
			name string
			row  loyalty.ImportRow // names a customer of people.csv
		}{
			{"Phone", loyalty.ImportRow{Line: 3, Phone: "+79120000002", MiddleName: "Ильич"}},
			{"ExternalID", loyalty.ImportRow{Line: 3, ExternalID: "E3", FirstName: "Семён", Cards: []string{"CARD-4", "CARD-9"}}},
			{"Card", loyalty.ImportRow{Line: 3, Cards: []string{"CARD-1"}, Email: "anna.new@example.com"}},
		} {
			t.Run(dialect+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var results []*loyalty.ImportResult
				var exports [][][]string
				for _, fresh := range []bool{false, true} {
					e := newEnv(t, dialect)
					ten := e.tenant(t, "T")
					e.importFile(t, ten, e.file(t, "people.csv", []byte(people)), transfer.Options{})
					rows := []loyalty.ImportRow{newRow, tc.row}
					res, err := e.svc.ImportChunk(e.ctx, ten, rows, loyalty.ImportOptions{Fresh: fresh})
					if err != nil {
						t.Fatalf("ImportChunk(fresh %v) = %v", fresh, err)
					}
					x := e.export(t, ten)
					for _, r := range x { // a customer without an external id is exported by its own id
						if kopilka.ValidID("cus", r[0]) {
							r[0] = "cus_…"
						}
					}
					results, exports = append(results, res), append(exports, x)
				}
				if r := results[0]; r.Created != 1 || r.Updated != 1 || !r.Written || len(r.Errors) > 0 {
					t.Fatalf("ImportChunk with the lookup = %+v, want one created and one updated", r)
				}
				if d := cmp.Diff(results[0], results[1]); d != "" {
					t.Errorf("ImportChunk without the lookup differs (-with +without):\n%s", d)
				}
				if d := cmp.Diff(exports[0], exports[1]); d != "" {
					t.Errorf("customers after the chunk differ (-with the lookup +without):\n%s", d)
				}
			})
		}
	}
}
