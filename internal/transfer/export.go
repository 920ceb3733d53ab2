package transfer

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// Exports are written as they are read: a CSV export streams row by row
// (UTF-8 without a byte-order mark, "," between fields, "." before two
// decimals, text cells that start with = + - or @ behind an apostrophe
// against formula injection); an XLSX export goes through excelize's
// StreamWriter, which keeps rows on disk rather than in memory and writes
// the workbook when the last row is in. Amounts are currency units; phone
// numbers E.164; dates YYYY-MM-DD; times RFC 3339 UTC.

// ContentType is the media type of a format.
func (f Format) ContentType() string {
	if f == XLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// money is an amount in hundredths that a table writes in currency units.
type money int64

func (m money) String() string {
	v, sign := int64(m), ""
	if v < 0 {
		v, sign = -v, "-"
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// phone is a phone number: never escaped, always text.
type phone string

// table writes rows of cells: strings, phones and money.
type table interface {
	row(cells ...any) error
	// finish completes the file.
	finish() error
}

func newTable(format Format, w io.Writer, sheet string, cols []string) (table, error) {
	var t table
	if format == XLSX {
		x, err := newXLSXTable(w, sheet)
		if err != nil {
			return nil, err
		}
		t = x
	} else {
		b := bufio.NewWriterSize(w, 32<<10)
		t = &csvTable{b: b, w: csv.NewWriter(b)}
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = c
	}
	return t, t.row(head...)
}

type csvTable struct {
	b    *bufio.Writer
	w    *csv.Writer
	rec  []string
	rows int
}

func (t *csvTable) row(cells ...any) error {
	t.rec = t.rec[:0]
	for _, c := range cells {
		switch v := c.(type) {
		case string:
			t.rec = append(t.rec, escapeFormula(v))
		case phone:
			t.rec = append(t.rec, string(v))
		case money:
			t.rec = append(t.rec, v.String())
		default:
			return fmt.Errorf("csv: cell of type %T", c)
		}
	}
	if err := t.w.Write(t.rec); err != nil {
		return err
	}
	t.rows++
	if t.rows%1000 == 0 { // hand the rows on, so a client sees the stream move
		t.w.Flush()
		if err := t.w.Error(); err != nil {
			return err
		}
		return t.b.Flush()
	}
	return nil
}

func (t *csvTable) finish() error {
	t.w.Flush()
	if err := t.w.Error(); err != nil {
		return err
	}
	return t.b.Flush()
}

type xlsxTable struct {
	out   io.Writer
	f     *excelize.File
	sw    *excelize.StreamWriter
	money int // style id of amounts
	bold  int
	n     int
	cells []any
}

func newXLSXTable(w io.Writer, sheet string) (*xlsxTable, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		f.Close()
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		f.Close()
		return nil, err
	}
	format := "0.00"
	moneyStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		f.Close()
		return nil, err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		f.Close()
		return nil, err
	}
	return &xlsxTable{out: w, f: f, sw: sw, money: moneyStyle, bold: bold}, nil
}

func (t *xlsxTable) row(cells ...any) error {
	t.n++
	t.cells = t.cells[:0]
	for _, c := range cells {
		switch v := c.(type) {
		case string:
			if t.n == 1 {
				t.cells = append(t.cells, excelize.Cell{StyleID: t.bold, Value: v})
			} else {
				t.cells = append(t.cells, v)
			}
		case phone:
			t.cells = append(t.cells, string(v))
		case money:
			t.cells = append(t.cells, excelize.Cell{StyleID: t.money, Value: float64(v) / 100})
		default:
			return fmt.Errorf("xlsx: cell of type %T", c)
		}
	}
	ref, err := excelize.CoordinatesToCellName(1, t.n)
	if err != nil {
		return err
	}
	return t.sw.SetRow(ref, t.cells)
}

func (t *xlsxTable) finish() error {
	defer t.f.Close()
	if err := t.sw.Flush(); err != nil {
		return err
	}
	_, err := t.f.WriteTo(t.out)
	return err
}

// abort releases a table's resources after a failure.
func abort(t table) {
	if x, ok := t.(*xlsxTable); ok {
		x.f.Close()
	}
}

// activeCards joins the numbers of a customer's active cards.
func activeCards(cs []kopilka.Card) string {
	var ns []string
	for _, c := range cs {
		if c.Status == "" || c.Status == "active" {
			ns = append(ns, c.Number)
		}
	}
	return strings.Join(ns, ", ")
}

// externalID is what exports write as a customer's external_id: the one
// imported, or else Kopilka's own id, which imports into the same tenant
// match too.
func externalID(r *loyalty.CustomerRecord) string {
	if r.ExternalID != "" {
		return r.ExternalID
	}
	return r.Customer.ID
}

// ExportCustomers writes a tenant's customers in the columns imports
// read, so that an export imported into an empty tenant gives the same
// customers and balances. It returns the number of customers written.
func ExportCustomers(ctx context.Context, svc *loyalty.Service, tenantID string, format Format, w io.Writer) (int64, error) {
	t, err := newTable(format, w, "customers", customerColumns)
	if err != nil {
		return 0, err
	}
	var n int64
	err = svc.ExportCustomers(ctx, tenantID, func(r *loyalty.CustomerRecord) error {
		c := &r.Customer
		n++
		return t.row(externalID(r), phone(c.Phone), c.LastName, c.FirstName, c.MiddleName, c.Email, c.BirthDate,
			c.Gender, activeCards(c.Cards), money(r.Available), money(c.PurchasesTotal), strings.Join(c.Tags, ", "))
	})
	return n, finish(t, err)
}

// BalanceColumns are the columns of the balances export. An import reads
// its external_id, phone, card, balance and purchases_total.
var balanceColumns = []string{ColExternalID, ColPhone, ColCard, ColBalance, "pending", "reserved", ColPurchasesTotal, "tier"}

// ExportBalances writes each customer's points position and tier.
func ExportBalances(ctx context.Context, svc *loyalty.Service, tenantID string, format Format, w io.Writer) (int64, error) {
	t, err := newTable(format, w, "balances", balanceColumns)
	if err != nil {
		return 0, err
	}
	var n int64
	err = svc.ExportCustomers(ctx, tenantID, func(r *loyalty.CustomerRecord) error {
		n++
		return t.row(externalID(r), phone(r.Customer.Phone), activeCards(r.Customer.Cards), money(r.Available),
			money(r.Pending), money(r.Reserved), money(r.Customer.PurchasesTotal), r.Tier)
	})
	return n, finish(t, err)
}

var operationColumns = []string{"id", "created_at", "customer_id", "customer_external_id", "type", "status", "amount",
	"purchase_id", "external_id", "message"}

// ExportOperations writes a tenant's operations created in [from, to),
// oldest first.
func ExportOperations(ctx context.Context, svc *loyalty.Service, tenantID string, from, to time.Time, format Format, w io.Writer) (int64, error) {
	t, err := newTable(format, w, "operations", operationColumns)
	if err != nil {
		return 0, err
	}
	var n int64
	err = svc.ExportOperations(ctx, tenantID, from, to, func(r *loyalty.OperationRecord) error {
		o := &r.Operation
		n++
		return t.row(o.ID, o.CreatedAt.UTC().Format(time.RFC3339Nano), o.CustomerID, r.CustomerExternalID, string(o.Type),
			string(o.Status), money(o.Amount), o.PurchaseID, o.ExternalID, o.Message)
	})
	return n, finish(t, err)
}

func finish(t table, err error) error {
	if err != nil {
		abort(t)
		return err
	}
	return t.finish()
}

// ParsePeriod reads the bounds of an operations export: dates
// (YYYY-MM-DD, in loc; to includes its whole day) or RFC 3339 times (to
// excluded). An empty from is the beginning, an empty to the end of time.
// Errors are invalid_request naming from or to.
func ParsePeriod(from, to string, loc *time.Location) (time.Time, time.Time, error) {
	parse := func(name, s string, end bool) (time.Time, error) {
		if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
			if end {
				t = t.AddDate(0, 0, 1)
			}
			return t, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		return time.Time{}, kopilka.Invalid(name, "%s %q is not a date (YYYY-MM-DD) or an RFC 3339 time", name, s)
	}
	f, t := time.Unix(0, 0).UTC(), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	var err error
	if from != "" {
		if f, err = parse("from", from, false); err != nil {
			return f, t, err
		}
	}
	if to != "" {
		if t, err = parse("to", to, true); err != nil {
			return f, t, err
		}
	}
	if !f.Before(t) {
		return f, t, kopilka.Invalid("to", "the period is empty: from must be before to")
	}
	return f, t, nil
}

// itoa formats a count for people: 1234567 is "1 234 567".
func itoa(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' && s[i-1] != '-' {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}
