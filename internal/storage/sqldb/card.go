package sqldb

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

const cardColumns = `number, customer_id, kind, status, range_id, replaced_by, created_at`

func scanCard(scan func(...any) error) (*kopilka.Card, error) {
	var c kopilka.Card
	var created int64
	if err := scan(&c.Number, &c.CustomerID, &c.Kind, &c.Status, &c.RangeID, &c.ReplacedBy, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

const customerCardsSQL = `SELECT ` + cardColumns + ` FROM cards
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY created_at, number`

func (tx *Tx) customerCards(ctx context.Context, tenantID, id string) ([]kopilka.Card, error) {
	rows, err := tx.query(ctx, customerCardsSQL, tenantID, id)
	if err != nil {
		return nil, wrap("customer cards", err)
	}
	defer rows.Close()
	cards := []kopilka.Card{}
	for rows.Next() {
		c, err := scanCard(rows.Scan)
		if err != nil {
			return nil, wrap("customer cards", err)
		}
		cards = append(cards, *c)
	}
	return cards, wrap("customer cards", rows.Err())
}

// A taken number inserts nothing instead of failing: on PostgreSQL a
// failed statement would break the whole transaction, and issuing goes on
// to the next number.
const createCardSQL = `INSERT INTO cards (tenant_id, number, customer_id, kind, status, range_id, replaced_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, number) DO NOTHING`

// CreateCard issues a card; ErrConflict when the number is taken.
func (tx *Tx) CreateCard(ctx context.Context, tenantID string, c *kopilka.Card) error {
	c.CreatedAt = tx.now
	if c.Status == "" {
		c.Status = kopilka.CardActive
	}
	if c.Kind == "" {
		c.Kind = kopilka.CardPlastic
	}
	err := affected(tx.exec(ctx, createCardSQL, tenantID, c.Number, c.CustomerID, c.Kind, c.Status, c.RangeID, c.ReplacedBy, micros(tx.now)))
	if errors.Is(err, storage.ErrNotFound) {
		err = storage.ErrConflict
	}
	return wrap("create card "+c.Number, err)
}

// GetCard loads a card by number.
func (tx *Tx) GetCard(ctx context.Context, tenantID, number string) (*kopilka.Card, error) {
	c, err := scanCard(tx.row(ctx, `SELECT `+cardColumns+` FROM cards WHERE tenant_id = $1 AND number = $2`, tenantID, number).Scan)
	if err != nil {
		return nil, wrap("get card", err)
	}
	return c, nil
}

// FindCard loads the card of the first of numbers that exists.
func (tx *Tx) FindCard(ctx context.Context, tenantID string, numbers []string) (*kopilka.Card, error) {
	if len(numbers) == 1 {
		return tx.GetCard(ctx, tenantID, numbers[0])
	}
	args := []any{tenantID}
	rows, err := tx.query(ctx, `SELECT `+cardColumns+` FROM cards WHERE tenant_id = $1 AND number IN (`+placeholders(&args, numbers)+`)`, args...)
	if err != nil {
		return nil, wrap("find card", err)
	}
	defer rows.Close()
	found := map[string]*kopilka.Card{}
	for rows.Next() {
		c, err := scanCard(rows.Scan)
		if err != nil {
			return nil, wrap("find card", err)
		}
		found[c.Number] = c
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("find card", err)
	}
	for _, n := range numbers {
		if c := found[n]; c != nil {
			return c, nil
		}
	}
	return nil, wrap("find card", storage.ErrNotFound)
}

// placeholders appends values to args and returns their $N list.
func placeholders(args *[]any, values []string) string {
	ph := make([]string, len(values))
	for i, v := range values {
		*args = append(*args, v)
		ph[i] = "$" + strconv.Itoa(len(*args))
	}
	return strings.Join(ph, ", ")
}

// cardRefFrom is the FROM clause of a customer lookup by a card value,
// with the arguments it needs: the value alone, or with the numbers a
// scanned barcode may stand for (kopilka.CardLookups), where the longest
// number that is an active card wins.
func cardRefFrom(value string, args []any) (string, []any) {
	alts := kopilka.CardLookups(value)[1:]
	if len(alts) == 0 {
		return customerByRefFrom["card"], args
	}
	return ` FROM cards k
JOIN customers c ON c.tenant_id = k.tenant_id AND c.id = k.customer_id
WHERE k.tenant_id = $1 AND k.number IN ($2, ` + placeholders(&args, alts) + `) AND k.status = 'active'` + live + `
ORDER BY length(k.number) DESC LIMIT 1`, args
}

const setCardStatusSQL = `UPDATE cards SET status = $4, replaced_by = $5 WHERE tenant_id = $1 AND number = $2 AND status = $3`

// SetCardStatus moves a card from one status to another.
func (tx *Tx) SetCardStatus(ctx context.Context, tenantID, number, from, to, replacedBy string) error {
	return wrap("set card status", affected(tx.exec(ctx, setCardStatusSQL, tenantID, number, from, to, replacedBy)))
}

// The span of a range is a stretch of the (tenant_id, number) primary key.
// Any collation orders equal-length strings that share a prefix and go on
// in digits as their numbers, so the span holds every number of the range;
// callers check what else it holds.
const cardNumbersSQL = `SELECT number FROM cards
WHERE tenant_id = $1 AND number >= $2 AND number <= $3 AND length(number) = $4 AND number > $5
ORDER BY number LIMIT $6`

// CardNumbers lists card numbers of one length between first and last.
func (tx *Tx) CardNumbers(ctx context.Context, tenantID, first, last string, length int, after string, limit int) ([]string, error) {
	rows, err := tx.query(ctx, cardNumbersSQL, tenantID, first, last, length, after, limit)
	if err != nil {
		return nil, wrap("card numbers", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, wrap("card numbers", err)
		}
		out = append(out, n)
	}
	return out, wrap("card numbers", rows.Err())
}

const countCardsSQL = `SELECT COUNT(*) FROM cards
WHERE tenant_id = $1 AND number >= $2 AND number <= $3 AND length(number) = $4`

// CountCards counts card numbers of one length between first and last.
func (tx *Tx) CountCards(ctx context.Context, tenantID, first, last string, length int) (int64, error) {
	var n int64
	err := tx.row(ctx, countCardsSQL, tenantID, first, last, length).Scan(&n)
	return n, wrap("count cards", err)
}

const createCardRangeSQL = `INSERT INTO card_ranges (tenant_id, id, name, prefix, start_seq, end_seq, width, check_digit,
 kind, next_seq, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// CreateCardRange stores a range.
func (tx *Tx) CreateCardRange(ctx context.Context, r *kopilka.CardRange) error {
	r.CreatedAt = tx.now
	_, err := tx.exec(ctx, createCardRangeSQL, r.TenantID, r.ID, r.Name, r.Prefix, r.Start, r.End, r.Width,
		string(r.CheckDigit), r.Kind, r.Next, micros(tx.now))
	return wrap("create card range", err)
}

const cardRangeColumns = `tenant_id, id, name, prefix, start_seq, end_seq, width, check_digit, kind, next_seq, created_at`

func scanCardRange(scan func(...any) error) (*kopilka.CardRange, error) {
	var r kopilka.CardRange
	var cd string
	var created int64
	if err := scan(&r.TenantID, &r.ID, &r.Name, &r.Prefix, &r.Start, &r.End, &r.Width, &cd, &r.Kind, &r.Next, &created); err != nil {
		return nil, err
	}
	r.CheckDigit = kopilka.CheckDigit(cd)
	r.CreatedAt = fromMicros(created)
	return &r, nil
}

// ListCardRanges lists a tenant's ranges, oldest first.
func (tx *Tx) ListCardRanges(ctx context.Context, tenantID string) ([]kopilka.CardRange, error) {
	rows, err := tx.query(ctx, `SELECT `+cardRangeColumns+` FROM card_ranges WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, wrap("list card ranges", err)
	}
	defer rows.Close()
	var out []kopilka.CardRange
	for rows.Next() {
		r, err := scanCardRange(rows.Scan)
		if err != nil {
			return nil, wrap("list card ranges", err)
		}
		out = append(out, *r)
	}
	return out, wrap("list card ranges", rows.Err())
}

// GetCardRange loads a range; lock takes its row lock (without waiting
// inside a batch, as the customer lock does).
func (tx *Tx) GetCardRange(ctx context.Context, tenantID, id string, lock bool) (*kopilka.CardRange, error) {
	suffix, err := tx.lockSuffix(ctx, lock)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + cardRangeColumns + ` FROM card_ranges WHERE tenant_id = $1 AND id = $2` + suffix
	r, err := scanCardRange(tx.row(ctx, q, tenantID, id).Scan)
	if err != nil {
		return nil, wrap("get card range", err)
	}
	return r, nil
}

// lockSuffix is the row-lock clause of a SELECT: FOR UPDATE on
// PostgreSQL, NOWAIT inside a batch so two open batches never wait on each
// other; nothing on SQLite, whose single writer serialises writes.
func (tx *Tx) lockSuffix(ctx context.Context, lock bool) (string, error) {
	if !lock || tx.db.d.name() != "postgres" {
		return "", nil
	}
	nowait, err := tx.nowait(ctx)
	return " FOR UPDATE" + nowait, err
}

// SetCardRangeNext moves a range's counter.
func (tx *Tx) SetCardRangeNext(ctx context.Context, tenantID, id string, next int64) error {
	return wrap("set card range counter", affected(tx.exec(ctx,
		`UPDATE card_ranges SET next_seq = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, next)))
}
