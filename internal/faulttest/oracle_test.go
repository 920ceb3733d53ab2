package faulttest

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// kind is what a client operation does.
type kind int

const (
	kindPurchase kind = iota // POST /v1/purchases with confirm
	kindRefund               // POST /v1/purchases/{id}/refunds
)

func (k kind) String() string { return [...]string{"purchase", "refund"}[k] }

// outcome is what the client finally knows of an operation.
type outcome int

const (
	pending  outcome = iota // never sent to the end
	ok                      // 201: the server acknowledged the operation
	refused                 // 422: a business refusal, acknowledged as not done
	rejected                // any other definitive answer: a client or server bug
	unknown                 // no definitive answer before the grace period ended
)

func (o outcome) String() string {
	return [...]string{"pending", "ok", "refused", "rejected", "unknown"}[o]
}

// record is the client's history of one operation.
type record struct {
	N          int
	Kind       kind
	CustomerID string
	Key        string // the Idempotency-Key of the last attempt
	ExternalID string // the external_id of the last attempt
	Outcome    outcome
	Answer     string // the definitive answer of a refused or rejected operation

	// PurchaseID is the acknowledged purchase's id, or the purchase a
	// refund returns goods of.
	PurchaseID string
	Lines      int   // a purchase's line count
	Redeem     int64 // an acknowledged purchase's redeem and accrue
	Accrue     int64

	RefundID    string // an acknowledged refund's id, points and lines
	Returned    int64
	Revoked     int64
	RefundLines []kopilka.RefundLine

	Attempts int
	Lost     int  // attempts whose answer was lost (reset, EOF, timeout, 5xx)
	Replayed bool // the definitive answer carried Idempotent-Replayed: true
	// Abandoned lists the external ids the negative control gave up after
	// a lost answer (it retried under new ones).
	Abandoned []string
}

// operation is a ledger operation as GET /v1/customers/{id}/operations
// lists it.
type operation struct {
	ID         string
	Type       string
	Status     string
	Amount     int64
	PurchaseID string
}

// balance is the part of GET /v1/customers/{id}/balance the oracle uses.
type balance struct {
	Available int64 `json:"available"`
	Pending   int64 `json:"pending"`
}

// purchaseState is a purchase as GET /v1/purchases?external_id= shows it.
type purchaseState struct {
	ID         string
	CustomerID string
	Status     string
	Redeem     int64
	Accrue     int64
	Refunded   []kopilka.Quantity // per line
}

// ledgerView is what the oracle reads back through the API after a run.
type ledgerView struct {
	Ops       map[string][]operation    // by customer id
	Balances  map[string]balance        // by customer id
	Purchases map[string]*purchaseState // by external_id; absent: 404
}

// violation is one breach of the oracle.
type violation struct {
	Kind   string // see check
	Where  string // customer, purchase or external id
	Detail string
}

func (v violation) String() string { return fmt.Sprintf("%s: %s: %s", v.Kind, v.Where, v.Detail) }

// check is the oracle (RELIABILITY 2.0 O1 and O2) over the client's
// history and the ledger read back after the run. Kinds:
//
//	unresolved      an operation whose outcome stayed unknown
//	rejected        a definitive answer that is neither 201 nor a 422 refusal
//	duplicate       one purchase or refund id acknowledged to two operations
//	lost            an acknowledged purchase absent under its external_id
//	mismatch        an acknowledged purchase that differs from what the server keeps
//	refused_applied a refused purchase that exists after all
//	effects         an acknowledged purchase without exactly one accrual and one
//	                redemption of the acknowledged amounts (none when the amount is 0)
//	refund_effects  a purchase whose refund operations differ from its acknowledged refunds
//	refunded        a purchase whose refunded quantities differ from its acknowledged refunds
//	unacknowledged  an operation no acknowledged answer accounts for (a double effect)
//	balance         available + pending differs from the start plus the acknowledged
//	                answers, or from the sum of the customer's operations
func check(hist []*record, customers []string, lv ledgerView) []violation {
	var vs []violation
	add := func(kind, where, format string, args ...any) {
		vs = append(vs, violation{Kind: kind, Where: where, Detail: fmt.Sprintf(format, args...)})
	}
	expected := map[string]int64{}
	purchases := map[string]*record{} // acknowledged, by purchase id
	refunds := map[string][]*record{} // acknowledged, by purchase id
	refundIDs := map[string]*record{} // acknowledged, by refund id
	for _, c := range customers {
		expected[c] = startBalance
	}
	for _, r := range hist {
		switch {
		case r.Outcome == ok && r.Kind == kindPurchase:
			expected[r.CustomerID] += r.Accrue - r.Redeem
			if twin := purchases[r.PurchaseID]; twin != nil {
				add("duplicate", r.PurchaseID, "acknowledged to %s and to %s", twin.ExternalID, r.ExternalID)
			}
			purchases[r.PurchaseID] = r
			p := lv.Purchases[r.ExternalID]
			switch {
			case p == nil:
				add("lost", r.ExternalID, "acknowledged as %s, no purchase has this external_id", r.PurchaseID)
			case p.ID != r.PurchaseID || p.CustomerID != r.CustomerID || p.Status != kopilka.PurchaseComplete ||
				p.Redeem != r.Redeem || p.Accrue != r.Accrue:
				add("mismatch", r.ExternalID, "acknowledged %s for %s (redeem %d, accrue %d), the server keeps %+v",
					r.PurchaseID, r.CustomerID, r.Redeem, r.Accrue, *p)
			}
		case r.Outcome == ok && r.Kind == kindRefund:
			expected[r.CustomerID] += r.Returned - r.Revoked
			if twin := refundIDs[r.RefundID]; twin != nil {
				add("duplicate", r.RefundID, "acknowledged to %s and to %s", twin.ExternalID, r.ExternalID)
			}
			refundIDs[r.RefundID] = r
			refunds[r.PurchaseID] = append(refunds[r.PurchaseID], r)
		case r.Outcome == refused && r.Kind == kindPurchase:
			if p := lv.Purchases[r.ExternalID]; p != nil {
				add("refused_applied", r.ExternalID, "refused with %s, yet purchase %s exists", r.Answer, p.ID)
			}
		case r.Outcome == refused:
		case r.Outcome == rejected:
			add("rejected", r.ExternalID, "%s answered %s", r.Kind, r.Answer)
		default:
			add("unresolved", r.ExternalID, "%s %s after %d attempts", r.Kind, r.Outcome, r.Attempts)
			if p := lv.Purchases[r.ExternalID]; r.Kind == kindPurchase && p != nil {
				// It happened: count it so the other checks name the real fault.
				expected[r.CustomerID] += p.Accrue - p.Redeem
				purchases[p.ID] = &record{Kind: kindPurchase, CustomerID: r.CustomerID, ExternalID: r.ExternalID,
					PurchaseID: p.ID, Redeem: p.Redeem, Accrue: p.Accrue, Outcome: ok}
			}
		}
	}
	for _, c := range customers {
		checkCustomer(c, lv.Ops[c], purchases, refunds, add)
		var sum int64
		for _, op := range lv.Ops[c] {
			if op.Status == string(kopilka.StatusComplete) {
				sum += op.Amount
			}
		}
		b := lv.Balances[c]
		if got := b.Available + b.Pending; got != expected[c] || got != sum {
			add("balance", c, "available %d + pending %d = %d; the start and the acknowledged answers make %d, the operations sum to %d",
				b.Available, b.Pending, got, expected[c], sum)
		}
	}
	for id, p := range purchases {
		checkRefunded(id, p, refunds[id], lv.Purchases[p.ExternalID], add)
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Where, b.Where), cmp.Compare(a.Detail, b.Detail))
	})
	return vs
}

// opSet is what the ledger holds for one purchase.
type opSet struct {
	accruals, redemptions []int64
	returned, revoked     []int64
}

// checkCustomer compares one customer's operations with the acknowledged
// purchases and refunds.
func checkCustomer(c string, ops []operation, purchases map[string]*record, refunds map[string][]*record,
	add func(kind, where, format string, args ...any)) {
	sets := map[string]*opSet{}
	starts := 0
	for _, op := range ops {
		p := purchases[op.PurchaseID]
		switch {
		case op.Type == string(kopilka.OpAdjustment) && op.PurchaseID == "" && op.Amount == startBalance && starts == 0:
			starts++
			continue
		case op.PurchaseID == "" || p == nil || p.CustomerID != c || op.Status != string(kopilka.StatusComplete):
			add("unacknowledged", c, "operation %s: %s %s of %d for purchase %q", op.ID, op.Status, op.Type, op.Amount, op.PurchaseID)
			continue
		}
		s := sets[op.PurchaseID]
		if s == nil {
			s = &opSet{}
			sets[op.PurchaseID] = s
		}
		switch {
		case op.Type == string(kopilka.OpAccrual):
			s.accruals = append(s.accruals, op.Amount)
		case op.Type == string(kopilka.OpRedemption):
			s.redemptions = append(s.redemptions, op.Amount)
		case op.Type == string(kopilka.OpRefund) && op.Amount > 0:
			s.returned = append(s.returned, op.Amount)
		case op.Type == string(kopilka.OpRefund):
			s.revoked = append(s.revoked, op.Amount)
		default:
			add("unacknowledged", c, "operation %s: %s %s of %d for purchase %s", op.ID, op.Status, op.Type, op.Amount, op.PurchaseID)
		}
	}
	if starts != 1 {
		add("unacknowledged", c, "%d starting adjustments, want 1", starts)
	}
	for id, p := range purchases {
		if p.CustomerID != c {
			continue
		}
		s := sets[id]
		if s == nil {
			s = &opSet{}
		}
		if want := single(p.Accrue); !slices.Equal(s.accruals, want) {
			add("effects", id, "accrual operations %v, want %v", s.accruals, want)
		}
		if want := single(-p.Redeem); !slices.Equal(s.redemptions, want) {
			add("effects", id, "redemption operations %v, want %v", s.redemptions, want)
		}
		var wantRet, wantRev []int64
		for _, r := range refunds[id] {
			wantRet = append(wantRet, single(r.Returned)...)
			wantRev = append(wantRev, single(-r.Revoked)...)
		}
		if !sameMultiset(s.returned, wantRet) || !sameMultiset(s.revoked, wantRev) {
			add("refund_effects", id, "refund operations returned %v revoked %v; acknowledged refunds returned %v revoked %v",
				s.returned, s.revoked, wantRet, wantRev)
		}
	}
}

// checkRefunded compares a purchase's refunded quantities with its
// acknowledged refunds.
func checkRefunded(id string, p *record, rs []*record, st *purchaseState, add func(kind, where, format string, args ...any)) {
	if st == nil {
		return // reported as lost
	}
	want := make([]kopilka.Quantity, len(st.Refunded))
	for _, r := range rs {
		for _, l := range r.RefundLines {
			if l.Line < 1 || l.Line > len(want) {
				add("refunded", id, "refund %s names line %d of %d", r.RefundID, l.Line, len(want))
				continue
			}
			want[l.Line-1] += l.Quantity
		}
	}
	if !slices.Equal(st.Refunded, want) {
		add("refunded", id, "refunded quantities %v, acknowledged refunds make %v", st.Refunded, want)
	}
}

// single is the list of operation amounts one effect of amount a makes:
// none when it is 0.
func single(a int64) []int64 {
	if a == 0 {
		return nil
	}
	return []int64{a}
}

func sameMultiset(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// readLedger reads back, directly from the server, every customer's
// operations and balance and the purchase under every external id the
// history (and the abandoned attempts) used.
func readLedger(ctx context.Context, c *client, customers []string, hist []*record) (ledgerView, error) {
	lv := ledgerView{Ops: map[string][]operation{}, Balances: map[string]balance{}, Purchases: map[string]*purchaseState{}}
	var exts []string
	for _, r := range hist {
		if r.Kind == kindPurchase {
			exts = append(exts, r.ExternalID)
			exts = append(exts, r.Abandoned...)
		}
	}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan func() error)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for job := range jobs {
				if err := job(); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range customers {
		jobs <- func() error {
			ops, err := operations(ctx, c, id)
			if err != nil {
				return err
			}
			var b balance
			if err := c.call(ctx, "GET", "/v1/customers/"+id+"/balance", "", nil, http.StatusOK, &b); err != nil {
				return err
			}
			mu.Lock()
			lv.Ops[id], lv.Balances[id] = ops, b
			mu.Unlock()
			return nil
		}
	}
	for _, ext := range exts {
		jobs <- func() error {
			p, err := purchaseByExternalID(ctx, c, ext)
			if err == nil && p != nil {
				mu.Lock()
				lv.Purchases[ext] = p
				mu.Unlock()
			}
			return err
		}
	}
	close(jobs)
	wg.Wait()
	return lv, firstErr
}

// operations pages through every operation of a customer.
func operations(ctx context.Context, c *client, customer string) ([]operation, error) {
	var out []operation
	cursor := ""
	for {
		path := "/v1/customers/" + customer + "/operations?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				ID         string  `json:"id"`
				Type       string  `json:"type"`
				Status     string  `json:"status"`
				Amount     int64   `json:"amount"`
				PurchaseID *string `json:"purchase_id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := c.call(ctx, "GET", path, "", nil, http.StatusOK, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			op := operation{ID: it.ID, Type: it.Type, Status: it.Status, Amount: it.Amount}
			if it.PurchaseID != nil {
				op.PurchaseID = *it.PurchaseID
			}
			out = append(out, op)
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			return out, nil
		}
		cursor = *page.NextCursor
	}
}

// purchaseByExternalID returns the purchase with the external id, or nil
// when there is none (404).
func purchaseByExternalID(ctx context.Context, c *client, ext string) (*purchaseState, error) {
	path := "/v1/purchases?external_id=" + url.QueryEscape(ext)
	a := c.send(ctx, "GET", path, "", nil)
	if a.err == nil && a.status == http.StatusNotFound && a.code() == string(kopilka.CodeNotFound) {
		return nil, nil
	}
	var v struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Redeem   int64  `json:"redeem"`
		Accrue   int64  `json:"accrue"`
		Customer struct {
			ID string `json:"id"`
		} `json:"customer"`
		Lines []struct {
			Refunded kopilka.Quantity `json:"refunded"`
		} `json:"lines"`
	}
	if err := decodeAnswer(a, "GET "+path, http.StatusOK, &v); err != nil {
		return nil, err
	}
	p := &purchaseState{ID: v.ID, CustomerID: v.Customer.ID, Status: v.Status, Redeem: v.Redeem, Accrue: v.Accrue}
	for _, l := range v.Lines {
		p.Refunded = append(p.Refunded, l.Refunded)
	}
	return p, nil
}
