package crashtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// opKind is the kind of a state-changing request of the load.
type opKind int

const (
	kindAdjust  opKind = iota // POST /v1/customers/{id}/adjustments
	kindSale                  // POST /v1/purchases with confirm: a retail sale
	kindOrder                 // POST /v1/purchases without confirm: a pending purchase
	kindConfirm               // POST /v1/purchases/{id}/confirm of an acknowledged order
	kindCancel                // POST /v1/purchases/{id}/cancel of an acknowledged order
	kindRefund                // POST /v1/purchases/{id}/refunds of a complete purchase
	numKinds
)

var kindNames = [numKinds]string{"adjustment", "sale", "order", "confirm", "cancel", "refund"}

func (k opKind) String() string { return kindNames[k] }

// creates reports whether the kind registers a purchase.
func (k opKind) creates() bool { return k == kindSale || k == kindOrder }

// programJSON is the programme the battery runs under: two tiers, so
// purchases and refunds move customers across a threshold during the run;
// an excluded SKU; no activation delay, so a confirmed accrual is
// available at once and a refund revokes from the balance (and makes a
// debt when the points were spent).
const programJSON = `{
  "currency": "RUB",
  "tiers": [
    {"name": "Base",   "threshold": 0,       "accrual_percent": 5,   "max_redeem_percent": 50},
    {"name": "Silver", "threshold": 3000000, "accrual_percent": 7.5, "max_redeem_percent": 60}
  ],
  "accrue_on": "paid",
  "round_accrual_to_whole_points": false,
  "min_line_price": 100,
  "excluded_skus": ["TOBACCO-1"],
  "excluded_categories": [],
  "activation_delay_days": 0,
  "expiry_days": 365,
  "welcome_bonus": 0,
  "birthday_bonus": 0,
  "verification": {"mode": "off", "wait_seconds": 45}
}`

// lineReq is a receipt line as the client sends it.
type lineReq struct {
	SKU      string           `json:"sku"`
	Name     string           `json:"name"`
	Category string           `json:"category"`
	Quantity kopilka.Quantity `json:"quantity"`
	Price    int64            `json:"price"`
	Discount int64            `json:"discount"`
}

// purchaseView is a purchase as the API answers it.
type purchaseView struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Status     string `json:"status"`
	Customer   struct {
		ID string `json:"id"`
	} `json:"customer"`
	Available int64              `json:"available"`
	Total     int64              `json:"total"`
	Redeem    int64              `json:"redeem"`
	Accrue    int64              `json:"accrue"`
	Lines     []purchaseLineView `json:"lines"`
}

// purchaseLineView is a line of a purchase as the API answers it.
type purchaseLineView struct {
	Line     int              `json:"line"`
	Quantity kopilka.Quantity `json:"quantity"`
	Excluded bool             `json:"excluded"`
	Amount   int64            `json:"amount"`
	Redeem   int64            `json:"redeem"`
	ToPay    int64            `json:"to_pay"`
	Accrue   int64            `json:"accrue"`
	Refunded kopilka.Quantity `json:"refunded"`
}

// refundView is a refund as the API answers it.
type refundView struct {
	ID             string               `json:"id"`
	PurchaseID     string               `json:"purchase_id"`
	ExternalID     string               `json:"external_id"`
	Lines          []kopilka.RefundLine `json:"lines"`
	PointsReturned int64                `json:"points_returned"`
	PointsRevoked  int64                `json:"points_revoked"`
	Debt           int64                `json:"debt"`
	Amount         int64                `json:"amount"`
	Total          int64                `json:"total"`
}

// request returns the path and body of the record's request; every
// attempt sends exactly these.
func (r *opRecord) request() (path string, body []byte) {
	switch r.Kind {
	case kindAdjust:
		return "/v1/customers/" + r.CustomerID + "/adjustments", adjustmentBody(r.Amount, r.ExternalID)
	case kindSale, kindOrder:
		return "/v1/purchases", purchaseBody(r.CustomerID, r.Lines, r.Redeem, r.ExternalID, r.Kind == kindSale)
	case kindConfirm:
		return "/v1/purchases/" + r.PurchaseID + "/confirm", nil
	case kindCancel:
		return "/v1/purchases/" + r.PurchaseID + "/cancel", nil
	case kindRefund:
		return "/v1/purchases/" + r.PurchaseID + "/refunds", refundBody(r.ExternalID, r.RefundLines)
	}
	panic(fmt.Sprintf("request of kind %d", r.Kind))
}

func adjustmentBody(amount int64, externalID string) []byte {
	b, _ := json.Marshal(map[string]any{"amount": amount, "reason": "crash test", "external_id": externalID})
	return b
}

// purchaseBody is a POST /v1/purchases body; redeem is "" (none), "max"
// or an integer of hundredths.
func purchaseBody(customer string, lines []lineReq, redeem, externalID string, confirm bool) []byte {
	m := map[string]any{"customer": map[string]string{"id": customer}, "lines": lines, "external_id": externalID,
		"confirm": confirm}
	if redeem != "" {
		m["redeem"] = json.RawMessage(strconv.Quote(redeem))
		if redeem != "max" {
			m["redeem"] = json.RawMessage(redeem)
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// refundBody is a refund body; nil lines (no "lines" at all) is
// everything not yet refunded.
func refundBody(externalID string, lines []kopilka.RefundLine) []byte {
	m := map[string]any{"external_id": externalID}
	if lines != nil {
		m["lines"] = lines
	}
	b, _ := json.Marshal(m)
	return b
}

// target is an acknowledged purchase the load may act on later: a pending
// one to confirm or cancel, or a complete one to refund. A worker takes it
// out of its pool while it acts, so two requests never race on one
// purchase and the client always knows what is left to refund.
type target struct {
	create   *opRecord          // the acknowledged sale or order
	lines    []purchaseLineView // as acknowledged
	refunded []kopilka.Quantity // per line, by acknowledged refunds
}

func newTarget(rec *opRecord) *target {
	return &target{create: rec, lines: rec.Purchase.Lines, refunded: make([]kopilka.Quantity, len(rec.Purchase.Lines))}
}

// left returns what is left to refund of line i (from 0).
func (t *target) left(i int) kopilka.Quantity { return t.lines[i].Quantity - t.refunded[i] }

func (t *target) exhausted() bool {
	for i := range t.lines {
		if t.left(i) > 0 {
			return false
		}
	}
	return true
}

// pool is a set of targets taken one at a time.
type pool struct {
	mu    sync.Mutex
	items []*target
}

func (p *pool) put(t *target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items = append(p.items, t)
}

// take removes and returns a random target, or nil when the pool is empty.
func (p *pool) take(rng *rand.Rand) *target {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) == 0 {
		return nil
	}
	i := rng.IntN(len(p.items))
	t := p.items[i]
	p.items[i] = p.items[len(p.items)-1]
	p.items = p.items[:len(p.items)-1]
	return t
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items)
}

// mixKind draws the kind of the next operation: the percentages of the
// mix. Confirm, cancel and refund turn into a sale when no purchase is
// there to act on.
func mixKind(rng *rand.Rand) (kind opKind, read bool) {
	switch n := rng.IntN(100); {
	case n < 5:
		return 0, true
	case n < 35:
		return kindAdjust, false
	case n < 58:
		return kindSale, false
	case n < 72:
		return kindOrder, false
	case n < 81:
		return kindConfirm, false
	case n < 85:
		return kindCancel, false
	default:
		return kindRefund, false
	}
}

// receipt draws 1–3 lines: whole pieces or weighed goods of 5–300 RUB a
// unit, sometimes discounted, sometimes an excluded SKU.
func receipt(rng *rand.Rand) []lineReq {
	lines := make([]lineReq, 1+rng.IntN(3))
	for i := range lines {
		l := lineReq{SKU: fmt.Sprintf("SKU-%d", rng.IntN(50)), Name: "goods", Category: "grocery",
			Quantity: kopilka.Quantity(1000 * (1 + rng.IntN(3))), Price: int64(500 + rng.IntN(29501))}
		if rng.IntN(10) < 3 {
			l.Quantity = kopilka.Quantity(250 + rng.IntN(2251)) // 0.25–2.5 kg
			l.Category = "weighed"
		}
		if rng.IntN(10) == 0 {
			l.SKU, l.Category = "TOBACCO-1", "tobacco"
		}
		if rng.IntN(5) == 0 {
			l.Discount = rng.Int64N(l.Price*int64(l.Quantity)/1000/10 + 1)
		}
		lines[i] = l
	}
	return lines
}

// redeemFor draws a redemption: none, "max", or an integer the customer
// can likely afford by the client's estimate of its available points
// (estimates go stale under concurrency, so some are refused).
func redeemFor(rng *rand.Rand, estimate int64) string {
	switch n := rng.IntN(10); {
	case n < 4:
		return ""
	case n < 7:
		return "max"
	}
	if estimate <= 0 {
		return strconv.Itoa(100 + rng.IntN(900))
	}
	return strconv.FormatInt(1+rng.Int64N(min(estimate, 20000)), 10)
}

// refundLinesFor draws a refund of t: everything left (nil lines) about a
// third of the time, otherwise some of the lines with something left, each
// whole or in part.
func refundLinesFor(rng *rand.Rand, t *target) []kopilka.RefundLine {
	if rng.IntN(3) == 0 {
		return nil
	}
	var out []kopilka.RefundLine
	for i := range t.lines {
		left := t.left(i)
		if left <= 0 || rng.IntN(2) == 0 {
			continue
		}
		q := left
		switch {
		case left%1000 == 0 && left > 1000:
			q = kopilka.Quantity(1000 * (1 + rng.Int64N(int64(left)/1000)))
		case left%1000 != 0 && rng.IntN(2) == 0:
			q = kopilka.Quantity(1 + rng.Int64N(int64(left)))
		}
		out = append(out, kopilka.RefundLine{Line: i + 1, Quantity: q})
	}
	if len(out) == 0 {
		for i := range t.lines {
			if left := t.left(i); left > 0 {
				return []kopilka.RefundLine{{Line: i + 1, Quantity: left}}
			}
		}
	}
	return out
}

// expectedRefundLines is what a refund of t must answer it refunded: the
// lines asked, or everything left.
func expectedRefundLines(t *target, asked []kopilka.RefundLine) []kopilka.RefundLine {
	if asked != nil {
		return asked
	}
	var out []kopilka.RefundLine
	for i := range t.lines {
		if left := t.left(i); left > 0 {
			out = append(out, kopilka.RefundLine{Line: i + 1, Quantity: left})
		}
	}
	return out
}

// settleDefinitive judges a definitive answer (not a connection error nor
// a 5xx) of the record's kind: ok, a business refusal, or rejected with
// the reason. t is the target of a refund.
func settleDefinitive(rec *opRecord, t *target, a answer) (outcome, string) {
	switch rec.Kind {
	case kindAdjust:
		if a.status == http.StatusUnprocessableEntity && a.code() == "insufficient_points" {
			return refused, ""
		}
		if a.status != http.StatusCreated {
			return rejected, "want 201 or 422 insufficient_points"
		}
		var op struct {
			ID         string `json:"id"`
			CustomerID string `json:"customer_id"`
			Amount     int64  `json:"amount"`
			ExternalID string `json:"external_id"`
		}
		if err := json.Unmarshal(a.body, &op); err != nil || op.ID == "" || op.Amount != rec.Amount ||
			op.ExternalID != rec.ExternalID || op.CustomerID != rec.CustomerID {
			return rejected, "the operation differs from the request"
		}
		rec.OpID = op.ID
		return ok, ""
	case kindSale, kindOrder:
		if a.status == http.StatusUnprocessableEntity && (a.code() == "insufficient_points" || a.code() == "redeem_limit_exceeded") {
			return refused, ""
		}
		if a.status != http.StatusCreated {
			return rejected, "want 201 or 422 insufficient_points or redeem_limit_exceeded"
		}
		var p purchaseView
		want := "pending"
		if rec.Kind == kindSale {
			want = "complete"
		}
		if err := json.Unmarshal(a.body, &p); err != nil || p.ID == "" || p.ExternalID != rec.ExternalID ||
			p.Customer.ID != rec.CustomerID || p.Status != want || len(p.Lines) != len(rec.Lines) ||
			p.Redeem < 0 || p.Accrue < 0 {
			return rejected, "the purchase differs from the request"
		}
		if rec.Redeem != "" && rec.Redeem != "max" && strconv.FormatInt(p.Redeem, 10) != rec.Redeem {
			return rejected, "redeem differs from the request"
		}
		rec.Purchase = &p
		return ok, ""
	case kindConfirm, kindCancel:
		if a.status != http.StatusOK {
			return rejected, "want 200"
		}
		want := "complete"
		if rec.Kind == kindCancel {
			want = "cancelled"
		}
		var p purchaseView
		if err := json.Unmarshal(a.body, &p); err != nil || p.ID != rec.PurchaseID || p.Status != want {
			return rejected, "want the purchase " + want
		}
		rec.Purchase = &p
		return ok, ""
	case kindRefund:
		if a.status != http.StatusCreated {
			return rejected, "want 201"
		}
		var rf refundView
		if err := json.Unmarshal(a.body, &rf); err != nil || rf.ID == "" || rf.PurchaseID != rec.PurchaseID ||
			rf.ExternalID != rec.ExternalID || !slices.Equal(rf.Lines, expectedRefundLines(t, rec.RefundLines)) ||
			rf.PointsReturned < 0 || rf.PointsRevoked < 0 || rf.Debt < 0 || rf.Debt > rf.PointsRevoked {
			return rejected, "the refund differs from the request"
		}
		rec.Refund = &rf
		return ok, ""
	}
	return rejected, "unknown kind"
}
