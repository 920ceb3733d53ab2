package crashtest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// outcome is what the client finally knows of an operation.
type outcome int

const (
	pending  outcome = iota // never sent to the end
	ok                      // 201: the server acknowledged the operation
	refused                 // 422 insufficient_points: acknowledged as not done
	rejected                // any other definitive answer: a client or server bug
	unknown                 // no definitive answer before the grace period ended
)

func (o outcome) String() string {
	return [...]string{"pending", "ok", "refused", "rejected", "unknown"}[o]
}

// opRecord is the client's history of one state-changing request.
type opRecord struct {
	N          int
	Kind       opKind
	CustomerID string
	Key        string
	ExternalID string // of the adjustment, purchase or refund; confirm and cancel have none

	Amount      int64                // adjustment
	Lines       []lineReq            // sale, order
	Redeem      string               // sale, order: "" (none), "max" or an integer
	PurchaseID  string               // confirm, cancel, refund: the purchase acted on
	PurchaseExt string               // … and its external_id
	RefundLines []kopilka.RefundLine // refund: nil for everything left

	Outcome  outcome
	OpID     string        // the operation id of an acknowledged adjustment
	Purchase *purchaseView // the acknowledged purchase of a sale, order, confirm or cancel
	Refund   *refundView   // the acknowledged refund
	Answer   string        // the definitive answer, for rejected
	Attempts int
	Unknowns int  // attempts that got no definitive answer
	Replayed bool // the definitive answer was a stored one
}

// violation is one breach of the oracle.
type violation struct {
	Kind       string // see check
	CustomerID string
	ExternalID string
	Detail     string
}

func (v violation) String() string {
	return fmt.Sprintf("%s: customer %s external_id %q: %s", v.Kind, v.CustomerID, v.ExternalID, v.Detail)
}

// expectation is what a customer's balance must be by the acknowledged
// answers (API-CORE "Purchases"): an adjustment moves available; a sale
// adds its accrual and takes its redemption from available; an order
// takes its redemption from available into reserved and puts its accrual
// in pending; a confirm posts the reservation and moves the accrual from
// pending to available; a cancel returns the reservation to available and
// voids the pending accrual; a refund adds points_returned and takes
// points_revoked from available. purchases_total grows by the total of
// each completed purchase and shrinks by each refund's total.
type expectation struct {
	available, pending, reserved, purchasesTotal int64
	debt                                         int64 // refund debt acknowledged (a negative available is then allowed)
	unsure                                       bool  // an operation of the customer stayed unresolved or was rejected
}

// purchaseState is what the acknowledged answers say of one purchase.
type purchaseState struct {
	create  *opRecord // the sale or order; nil when its creation is unresolved
	ext     string
	status  string      // complete, pending or cancelled
	refunds []*opRecord // acknowledged refunds
	unsure  bool        // a request on it stayed unresolved or was rejected
}

// opStatus is the status a purchase's redemption and accrual operations
// have when the purchase has status s.
func opStatus(s string) string {
	if s == "cancelled" {
		return "voided"
	}
	return s
}

// share is floor(f × q / of): the cumulative share of a line figure for q
// of its quantity refunded (API-CORE "The arithmetic"); f × q stays far
// below 2^63 in this battery.
func share(f int64, q, of kopilka.Quantity) int64 { return f * int64(q) / int64(of) }

// check is the shared oracle O1–O3 over the client's history and the
// ledger read back after the run. Kinds:
//
//	unresolved        a request whose outcome stayed unknown (or was never finished)
//	rejected          an answer that is neither the success nor a business refusal of its kind
//	lost              acknowledged (adjustment, purchase) but absent
//	mismatch          acknowledged, but the server's record differs (id, customer, amount, type, status, figures)
//	duplicate         two adjustments with one external_id
//	refused_applied   acknowledged as refused, yet present
//	unacknowledged    a ledger operation no acknowledged request accounts for (a double effect)
//	status            a purchase's status differs from what its acknowledged requests imply
//	purchase_ops      a purchase's operations differ from its acknowledged figures, steps and refunds
//	refund_mismatch   a purchase's refunded quantities differ from its acknowledged refunds
//	refund_arithmetic acknowledged refunds' points or totals break the path-independent shares
//	overdraft         a redemption acknowledged above the available points it was priced with
//	balance           a balance differs from the acknowledged requests or from its ledger operations
//	negative          a balance below zero that no acknowledged refund debt explains
func check(hist []*opRecord, customers []string, lv ledgerView) []violation {
	var vs []violation
	add := func(kind, customer, ext, format string, args ...any) {
		vs = append(vs, violation{Kind: kind, CustomerID: customer, ExternalID: ext, Detail: fmt.Sprintf(format, args...)})
	}
	want := map[string]*expectation{}
	for _, c := range customers {
		want[c] = &expectation{}
	}
	wantOf := func(c string) *expectation {
		if want[c] == nil {
			want[c] = &expectation{}
		}
		return want[c]
	}

	// The ledger: adjustments by external_id, purchase operations by
	// purchase, and per customer the sums the balance must equal.
	adjByExt := map[string][]ledgerOp{}
	byPurchase := map[string][]ledgerOp{}
	complete, pendingAccrual, pendingRedeem := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, op := range lv.Ops {
		switch op.Status {
		case "complete":
			complete[op.CustomerID] += op.Amount
		case "pending":
			if op.Amount > 0 {
				pendingAccrual[op.CustomerID] += op.Amount
			} else {
				pendingRedeem[op.CustomerID] -= op.Amount
			}
		}
		switch {
		case op.PurchaseID != "":
			byPurchase[op.PurchaseID] = append(byPurchase[op.PurchaseID], op)
		case op.ExternalID != "":
			adjByExt[op.ExternalID] = append(adjByExt[op.ExternalID], op)
		}
	}

	// Adjustments.
	knownAdj := map[string]bool{}
	for _, r := range hist {
		if r.Kind != kindAdjust {
			continue
		}
		knownAdj[r.ExternalID] = true
		ops := adjByExt[r.ExternalID]
		switch r.Outcome {
		case ok:
			wantOf(r.CustomerID).available += r.Amount
			if len(ops) == 0 {
				add("lost", r.CustomerID, r.ExternalID, "acknowledged as %s, absent from the ledger", r.OpID)
				continue
			}
			op := ops[0]
			if op.ID != r.OpID || op.CustomerID != r.CustomerID || op.Amount != r.Amount ||
				op.Type != "adjustment" || op.Status != "complete" {
				add("mismatch", r.CustomerID, r.ExternalID, "acknowledged %s of %d, ledger has %+v", r.OpID, r.Amount, op)
			}
		case refused:
			if len(ops) > 0 {
				add("refused_applied", r.CustomerID, r.ExternalID, "refused with insufficient_points, ledger has %s", ops[0].ID)
			}
		case rejected:
			add("rejected", r.CustomerID, r.ExternalID, "answer %s", r.Answer)
			wantOf(r.CustomerID).unsure = true
		default:
			add("unresolved", r.CustomerID, r.ExternalID, "adjustment: outcome %s after %d attempts", r.Outcome, r.Attempts)
			wantOf(r.CustomerID).unsure = true
		}
	}
	for ext, ops := range adjByExt {
		if len(ops) > 1 {
			add("duplicate", ops[0].CustomerID, ext, "%d operations", len(ops))
		}
		for _, op := range ops {
			if !knownAdj[ext] {
				add("unacknowledged", op.CustomerID, op.ExternalID, "ledger operation %s %s of %d", op.ID, op.Type, op.Amount)
			}
		}
	}

	// Purchases: first their creation, then the later requests on them.
	byID := map[string]*purchaseState{}  // purchases whose operations are accounted for
	byExt := map[string]*purchaseState{} // acknowledged purchases by external_id
	for _, r := range hist {
		if !r.Kind.creates() {
			continue
		}
		p := lv.Purchases[r.ExternalID]
		w := wantOf(r.CustomerID)
		switch r.Outcome {
		case ok:
			g := r.Purchase
			ps := &purchaseState{create: r, ext: r.ExternalID, status: g.Status}
			byID[g.ID], byExt[r.ExternalID] = ps, ps
			if r.Kind == kindSale {
				w.available += g.Accrue - g.Redeem
				w.purchasesTotal += g.Total
			} else {
				w.available -= g.Redeem
				w.reserved += g.Redeem
				w.pending += g.Accrue
			}
			if g.Redeem > 0 && g.Redeem > g.Available {
				add("overdraft", r.CustomerID, r.ExternalID, "redeemed %d with %d available", g.Redeem, g.Available)
			}
			switch {
			case p == nil:
				add("lost", r.CustomerID, r.ExternalID, "%s %s acknowledged, GET /v1/purchases?external_id= finds none", r.Kind, g.ID)
			case p.ID != g.ID || p.Customer.ID != r.CustomerID || p.Redeem != g.Redeem || p.Accrue != g.Accrue ||
				p.Total != g.Total || len(p.Lines) != len(g.Lines):
				add("mismatch", r.CustomerID, r.ExternalID, "acknowledged %s redeem %d accrue %d total %d; the server has %s redeem %d accrue %d total %d",
					g.ID, g.Redeem, g.Accrue, g.Total, p.ID, p.Redeem, p.Accrue, p.Total)
				ps.unsure = true
			}
		case refused:
			if p != nil {
				add("refused_applied", r.CustomerID, r.ExternalID, "%s refused, the server has purchase %s %s", r.Kind, p.ID, p.Status)
			}
		default:
			if r.Outcome == rejected {
				add("rejected", r.CustomerID, r.ExternalID, "%s: answer %s", r.Kind, r.Answer)
			} else {
				add("unresolved", r.CustomerID, r.ExternalID, "%s: outcome %s after %d attempts", r.Kind, r.Outcome, r.Attempts)
			}
			w.unsure = true
			if p != nil { // it happened: its operations are accounted for, unchecked
				byID[p.ID] = &purchaseState{ext: r.ExternalID, unsure: true}
			}
		}
	}
	for _, r := range hist {
		if r.Kind.creates() || r.Kind == kindAdjust {
			continue
		}
		w := wantOf(r.CustomerID)
		ps := byExt[r.PurchaseExt]
		if ps == nil {
			add("rejected", r.CustomerID, r.ExternalID, "%s of purchase %s that was never acknowledged", r.Kind, r.PurchaseExt)
			w.unsure = true
			continue
		}
		switch r.Outcome {
		case ok:
			g := ps.create.Purchase
			switch r.Kind {
			case kindConfirm:
				ps.status = "complete"
				w.reserved -= g.Redeem
				w.pending -= g.Accrue
				w.available += g.Accrue
				w.purchasesTotal += g.Total
			case kindCancel:
				ps.status = "cancelled"
				w.reserved -= g.Redeem
				w.pending -= g.Accrue
				w.available += g.Redeem
			case kindRefund:
				rf := r.Refund
				ps.refunds = append(ps.refunds, r)
				w.available += rf.PointsReturned - rf.PointsRevoked
				w.purchasesTotal -= rf.Total
				w.debt += rf.Debt
			}
		case rejected:
			add("rejected", r.CustomerID, cmp.Or(r.ExternalID, r.PurchaseExt), "%s: answer %s", r.Kind, r.Answer)
			w.unsure, ps.unsure = true, true
		default:
			add("unresolved", r.CustomerID, cmp.Or(r.ExternalID, r.PurchaseExt), "%s of %s: outcome %s after %d attempts",
				r.Kind, r.PurchaseID, r.Outcome, r.Attempts)
			w.unsure, ps.unsure = true, true
		}
	}
	for id, ps := range byID {
		ops := byPurchase[id]
		delete(byPurchase, id)
		p := lv.Purchases[ps.ext]
		if ps.unsure || p == nil {
			continue
		}
		checkPurchase(ps, p, ops, add)
	}
	for _, ops := range byPurchase {
		for _, op := range ops {
			add("unacknowledged", op.CustomerID, "", "ledger operation %s %s %s of %d of purchase %s no acknowledged request made",
				op.ID, op.Type, op.Status, op.Amount, op.PurchaseID)
		}
	}
	for _, op := range lv.Ops {
		if op.PurchaseID == "" && op.ExternalID == "" {
			add("unacknowledged", op.CustomerID, "", "ledger operation %s %s of %d", op.ID, op.Type, op.Amount)
		}
	}

	// Balances.
	for _, c := range customers {
		b, w := lv.Balances[c], want[c]
		var why []string
		if b.Available+b.Reserved != complete[c] || b.Pending != pendingAccrual[c] || b.Reserved != pendingRedeem[c] {
			why = append(why, fmt.Sprintf("its ledger operations imply available+reserved %d, pending %d, reserved %d",
				complete[c], pendingAccrual[c], pendingRedeem[c]))
		}
		if !w.unsure && (b.Available != w.available || b.Pending != w.pending || b.Reserved != w.reserved ||
			b.PurchasesTotal != w.purchasesTotal) {
			why = append(why, fmt.Sprintf("the acknowledged requests imply available %d, pending %d, reserved %d, purchases_total %d",
				w.available, w.pending, w.reserved, w.purchasesTotal))
		}
		if len(why) > 0 {
			add("balance", c, "", "available %d pending %d reserved %d purchases_total %d; %s", b.Available, b.Pending,
				b.Reserved, b.PurchasesTotal, strings.Join(why, "; "))
		}
		if b.Pending < 0 || b.Reserved < 0 || (b.Available < 0 && !w.unsure && w.debt == 0) {
			add("negative", c, "", "available %d pending %d reserved %d; acknowledged refund debt %d",
				b.Available, b.Pending, b.Reserved, w.debt)
		}
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.CustomerID, b.CustomerID), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	return vs
}

// checkPurchase compares one acknowledged purchase with the server's view
// of it and with its ledger operations: its status, refunded quantities,
// the operations of its redemption, accrual and refunds, and the refund
// arithmetic.
func checkPurchase(ps *purchaseState, p *purchaseView, ops []ledgerOp, add func(kind, customer, ext, format string, args ...any)) {
	r, g := ps.create, ps.create.Purchase
	if p.Status != ps.status {
		add("status", r.CustomerID, ps.ext, "acknowledged requests make it %s, the server says %s", ps.status, p.Status)
	}
	refunded := make([]kopilka.Quantity, len(g.Lines))
	var returned, revoked, total int64
	var nReturned, nRevoked int
	for _, rr := range ps.refunds {
		rf := rr.Refund
		for _, l := range rf.Lines {
			if l.Line >= 1 && l.Line <= len(refunded) {
				refunded[l.Line-1] += l.Quantity
			}
		}
		returned, revoked, total = returned+rf.PointsReturned, revoked+rf.PointsRevoked, total+rf.Total
		if rf.PointsReturned > 0 {
			nReturned++
		}
		if rf.PointsRevoked > 0 {
			nRevoked++
		}
	}
	var server []kopilka.Quantity
	for _, l := range p.Lines {
		server = append(server, l.Refunded)
	}
	if !slices.Equal(server, refunded) {
		add("refund_mismatch", r.CustomerID, ps.ext, "%d acknowledged refunds refunded %v, the server has %v", len(ps.refunds), refunded, server)
	}
	var wantReturned, wantRevoked, wantTotal int64
	for i, l := range g.Lines {
		if refunded[i] > l.Quantity {
			add("refund_arithmetic", r.CustomerID, ps.ext, "line %d: %v refunded of %v", i+1, refunded[i], l.Quantity)
			return
		}
		wantReturned += share(l.Redeem, refunded[i], l.Quantity)
		wantRevoked += share(l.Accrue, refunded[i], l.Quantity)
		wantTotal += share(l.Amount, refunded[i], l.Quantity)
	}
	if returned != wantReturned || revoked != wantRevoked || total != wantTotal {
		add("refund_arithmetic", r.CustomerID, ps.ext, "refunds returned %d, revoked %d, total %d; the shares of %v are %d, %d, %d",
			returned, revoked, total, refunded, wantReturned, wantRevoked, wantTotal)
	}

	// The operations: at most one redemption and one accrual with the
	// purchase's figures and the status its own status implies, and the
	// refunds' returned (positive) and revoked (negative) points.
	type opKey struct{ typ, status string }
	got := map[opKey][]int64{}
	var refundPlus, refundMinus int64
	var nPlus, nMinus int
	for _, op := range ops {
		if op.Type == "refund" {
			if op.Amount > 0 {
				refundPlus, nPlus = refundPlus+op.Amount, nPlus+1
			} else {
				refundMinus, nMinus = refundMinus-op.Amount, nMinus+1
			}
			continue
		}
		got[opKey{op.Type, op.Status}] = append(got[opKey{op.Type, op.Status}], op.Amount)
	}
	wantOps := map[opKey][]int64{}
	st := opStatus(ps.status)
	if g.Redeem > 0 {
		wantOps[opKey{"redemption", st}] = []int64{-g.Redeem}
	}
	if g.Accrue > 0 {
		wantOps[opKey{"accrual", st}] = []int64{g.Accrue}
	}
	if !maps.EqualFunc(got, wantOps, slices.Equal) || refundPlus != returned || refundMinus != revoked ||
		nPlus != nReturned || nMinus != nRevoked {
		add("purchase_ops", r.CustomerID, ps.ext, "operations %v, refunds +%d in %d and -%d in %d; want %v, refunds +%d in %d and -%d in %d",
			got, refundPlus, nPlus, refundMinus, nMinus, wantOps, returned, nReturned, revoked, nRevoked)
	}
}

// TestCheck is the oracle's own negative control: each row breaks one
// property on made-up data and the oracle must name exactly that breach.
func TestCheck(t *testing.T) {
	t.Parallel()
	const a, b = "cus_a", "cus_b"
	line := func(q kopilka.Quantity, amount, redeem, accrue int64) purchaseLineView {
		return purchaseLineView{Line: 1, Quantity: q, Amount: amount, Redeem: redeem, ToPay: amount - redeem, Accrue: accrue}
	}
	pv := func(id, ext, status, customer string, available, total, redeem, accrue int64, l purchaseLineView) *purchaseView {
		p := &purchaseView{ID: id, ExternalID: ext, Status: status, Available: available, Total: total, Redeem: redeem,
			Accrue: accrue, Lines: []purchaseLineView{l}}
		p.Customer.ID = customer
		return p
	}
	// The clean world. a: +500 and -200 adjusted, a sale s1 (redeem 100,
	// accrue 95) with half of its 2 units refunded (r1: +50 returned, 47
	// revoked). b: a refused -900, +1000 adjusted, an order o1 confirmed
	// (redeem 200, accrue 40), an order o2 cancelled (redeem 300, accrue
	// 30), an order o3 left pending (accrue 10).
	hist := func() []*opRecord {
		return []*opRecord{
			{N: 1, Kind: kindAdjust, CustomerID: a, Amount: 500, ExternalID: "x1", Outcome: ok, OpID: "op_1"},
			{N: 2, Kind: kindAdjust, CustomerID: a, Amount: -200, ExternalID: "x2", Outcome: ok, OpID: "op_2"},
			{N: 3, Kind: kindAdjust, CustomerID: b, Amount: -900, ExternalID: "x3", Outcome: refused},
			{N: 4, Kind: kindSale, CustomerID: a, ExternalID: "s1", Outcome: ok,
				Purchase: pv("pur_s1", "s1", "complete", a, 300, 2000, 100, 95, line(2000, 2000, 100, 95))},
			{N: 5, Kind: kindRefund, CustomerID: a, ExternalID: "r1", PurchaseID: "pur_s1", PurchaseExt: "s1",
				RefundLines: []kopilka.RefundLine{{Line: 1, Quantity: 1000}}, Outcome: ok,
				Refund: &refundView{ID: "ref_1", PurchaseID: "pur_s1", ExternalID: "r1", Lines: []kopilka.RefundLine{{Line: 1, Quantity: 1000}},
					PointsReturned: 50, PointsRevoked: 47, Amount: 950, Total: 1000}},
			{N: 6, Kind: kindAdjust, CustomerID: b, Amount: 1000, ExternalID: "x5", Outcome: ok, OpID: "op_7"},
			{N: 7, Kind: kindOrder, CustomerID: b, ExternalID: "o1", Outcome: ok,
				Purchase: pv("pur_o1", "o1", "pending", b, 1000, 1000, 200, 40, line(1000, 1000, 200, 40))},
			{N: 8, Kind: kindConfirm, CustomerID: b, PurchaseID: "pur_o1", PurchaseExt: "o1", Outcome: ok,
				Purchase: pv("pur_o1", "o1", "complete", b, 1000, 1000, 200, 40, line(1000, 1000, 200, 40))},
			{N: 9, Kind: kindOrder, CustomerID: b, ExternalID: "o2", Outcome: ok,
				Purchase: pv("pur_o2", "o2", "pending", b, 840, 900, 300, 30, line(3000, 900, 300, 30))},
			{N: 10, Kind: kindCancel, CustomerID: b, PurchaseID: "pur_o2", PurchaseExt: "o2", Outcome: ok,
				Purchase: pv("pur_o2", "o2", "cancelled", b, 840, 900, 300, 30, line(3000, 900, 300, 30))},
			{N: 11, Kind: kindOrder, CustomerID: b, ExternalID: "o3", Outcome: ok,
				Purchase: pv("pur_o3", "o3", "pending", b, 840, 500, 0, 10, line(500, 500, 0, 10))},
		}
	}
	ledger := func() ledgerView {
		s1 := pv("pur_s1", "s1", "complete", a, 300, 2000, 100, 95, line(2000, 2000, 100, 95))
		s1.Lines[0].Refunded = 1000
		return ledgerView{
			Ops: []ledgerOp{
				{ID: "op_6", CustomerID: a, Type: "refund", Status: "complete", Amount: -47, PurchaseID: "pur_s1"},
				{ID: "op_5", CustomerID: a, Type: "refund", Status: "complete", Amount: 50, PurchaseID: "pur_s1"},
				{ID: "op_4", CustomerID: a, Type: "accrual", Status: "complete", Amount: 95, PurchaseID: "pur_s1"},
				{ID: "op_3", CustomerID: a, Type: "redemption", Status: "complete", Amount: -100, PurchaseID: "pur_s1"},
				{ID: "op_2", CustomerID: a, Type: "adjustment", Status: "complete", Amount: -200, ExternalID: "x2"},
				{ID: "op_1", CustomerID: a, Type: "adjustment", Status: "complete", Amount: 500, ExternalID: "x1"},
				{ID: "op_12", CustomerID: b, Type: "accrual", Status: "pending", Amount: 10, PurchaseID: "pur_o3"},
				{ID: "op_11", CustomerID: b, Type: "accrual", Status: "voided", Amount: 30, PurchaseID: "pur_o2"},
				{ID: "op_10", CustomerID: b, Type: "redemption", Status: "voided", Amount: -300, PurchaseID: "pur_o2"},
				{ID: "op_9", CustomerID: b, Type: "accrual", Status: "complete", Amount: 40, PurchaseID: "pur_o1"},
				{ID: "op_8", CustomerID: b, Type: "redemption", Status: "complete", Amount: -200, PurchaseID: "pur_o1"},
				{ID: "op_7", CustomerID: b, Type: "adjustment", Status: "complete", Amount: 1000, ExternalID: "x5"},
			},
			Balances: map[string]balance{
				a: {Available: 298, PurchasesTotal: 1000},
				b: {Available: 840, Pending: 10, PurchasesTotal: 1000},
			},
			Purchases: map[string]*purchaseView{
				"s1": s1,
				"o1": pv("pur_o1", "o1", "complete", b, 1000, 1000, 200, 40, line(1000, 1000, 200, 40)),
				"o2": pv("pur_o2", "o2", "cancelled", b, 840, 900, 300, 30, line(3000, 900, 300, 30)),
				"o3": pv("pur_o3", "o3", "pending", b, 840, 500, 0, 10, line(500, 500, 0, 10)),
			},
		}
	}
	op := func(lv *ledgerView, id string) *ledgerOp {
		for i := range lv.Ops {
			if lv.Ops[i].ID == id {
				return &lv.Ops[i]
			}
		}
		t.Fatalf("no operation %s in the clean world", id)
		return nil
	}
	drop := func(lv *ledgerView, ids ...string) {
		lv.Ops = slices.DeleteFunc(lv.Ops, func(o ledgerOp) bool { return slices.Contains(ids, o.ID) })
	}
	setBalance := func(lv *ledgerView, c string, f func(*balance)) {
		bal := lv.Balances[c]
		f(&bal)
		lv.Balances[c] = bal
	}
	find := func(h []*opRecord, ext string) *opRecord {
		for _, r := range h {
			if r.ExternalID == ext {
				return r
			}
		}
		t.Fatalf("no record %s in the clean world", ext)
		return nil
	}
	type kinds []string
	tests := []struct {
		name  string
		spoil func(h []*opRecord, lv *ledgerView) []*opRecord
		want  kinds
	}{
		{"clean", func(h []*opRecord, lv *ledgerView) []*opRecord { return h }, nil},
		{"acknowledged adjustment lost", func(h []*opRecord, lv *ledgerView) []*opRecord {
			drop(lv, "op_1") // op_1 vanished; its lot kept the balance
			return h
		}, kinds{"balance", "lost"}},
		{"adjustment applied twice under a new external id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_99", CustomerID: a, Type: "adjustment", Status: "complete", Amount: 500, ExternalID: "x1-retry"})
			setBalance(lv, a, func(b *balance) { b.Available += 500 })
			return h
		}, kinds{"balance", "unacknowledged"}},
		{"one external id twice", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_99", CustomerID: a, Type: "adjustment", Status: "complete", Amount: 500, ExternalID: "x1"})
			setBalance(lv, a, func(b *balance) { b.Available += 500 })
			return h
		}, kinds{"balance", "duplicate"}},
		{"refusal applied", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_99", CustomerID: b, Type: "adjustment", Status: "complete", Amount: -900, ExternalID: "x3"})
			setBalance(lv, b, func(b *balance) { b.Available -= 900 })
			return h
		}, kinds{"balance", "negative", "refused_applied"}},
		{"balance drifted from its operations", func(h []*opRecord, lv *ledgerView) []*opRecord {
			setBalance(lv, a, func(b *balance) { b.Available++ })
			return h
		}, kinds{"balance"}},
		{"points left pending", func(h []*opRecord, lv *ledgerView) []*opRecord {
			setBalance(lv, b, func(b *balance) { b.Pending += 5 })
			return h
		}, kinds{"balance"}},
		{"ledger amount differs from the acknowledgement", func(h []*opRecord, lv *ledgerView) []*opRecord {
			op(lv, "op_2").Amount = 50
			setBalance(lv, a, func(b *balance) { b.Available += 250 })
			return h
		}, kinds{"balance", "mismatch"}},
		{"another operation id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			op(lv, "op_2").ID = "op_other"
			return h
		}, kinds{"mismatch"}},
		{"outcome unknown", func(h []*opRecord, lv *ledgerView) []*opRecord {
			return append(h, &opRecord{N: 20, Kind: kindAdjust, CustomerID: b, Amount: 100, ExternalID: "x4", Outcome: unknown})
		}, kinds{"unresolved"}},
		{"unknown outcome that happened", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_20", CustomerID: b, Type: "adjustment", Status: "complete", Amount: 100, ExternalID: "x4"})
			setBalance(lv, b, func(b *balance) { b.Available += 100 })
			return append(h, &opRecord{N: 20, Kind: kindAdjust, CustomerID: b, Amount: 100, ExternalID: "x4", Outcome: unknown})
		}, kinds{"unresolved"}},
		{"unexpected answer", func(h []*opRecord, lv *ledgerView) []*opRecord {
			return append(h, &opRecord{N: 20, Kind: kindAdjust, CustomerID: b, Amount: 100, ExternalID: "x4", Outcome: rejected, Answer: "409 conflict"})
		}, kinds{"rejected"}},
		{"operation without external id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_20", CustomerID: b, Type: "bonus", Status: "complete", Amount: 100})
			setBalance(lv, b, func(b *balance) { b.Available += 100 })
			return h
		}, kinds{"balance", "unacknowledged"}},
		{"acknowledged purchase lost", func(h []*opRecord, lv *ledgerView) []*opRecord {
			delete(lv.Purchases, "s1")
			return h
		}, kinds{"lost"}},
		{"server's purchase figures differ", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Purchases["s1"].Accrue = 96
			return h
		}, kinds{"mismatch"}},
		{"sale registered twice under a new external id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops,
				ledgerOp{ID: "op_21", CustomerID: a, Type: "redemption", Status: "complete", Amount: -100, PurchaseID: "pur_dup"},
				ledgerOp{ID: "op_22", CustomerID: a, Type: "accrual", Status: "complete", Amount: 95, PurchaseID: "pur_dup"})
			setBalance(lv, a, func(b *balance) { b.Available -= 5; b.PurchasesTotal += 2000 })
			return h
		}, kinds{"balance", "unacknowledged", "unacknowledged"}},
		{"refused purchase applied", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Purchases["s4"] = pv("pur_s4", "s4", "complete", b, 840, 500, 0, 0, line(500, 500, 0, 0))
			return append(h, &opRecord{N: 20, Kind: kindSale, CustomerID: b, ExternalID: "s4", Redeem: "5000", Outcome: refused})
		}, kinds{"refused_applied"}},
		{"confirmed order still pending", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Purchases["o1"].Status = "pending"
			return h
		}, kinds{"status"}},
		{"cancel kept the reservation", func(h []*opRecord, lv *ledgerView) []*opRecord {
			op(lv, "op_10").Status = "complete"
			setBalance(lv, b, func(b *balance) { b.Available -= 300 })
			return h
		}, kinds{"balance", "purchase_ops"}},
		{"pending accrual vanished", func(h []*opRecord, lv *ledgerView) []*opRecord {
			drop(lv, "op_12")
			setBalance(lv, b, func(b *balance) { b.Pending = 0 })
			return h
		}, kinds{"balance", "purchase_ops"}},
		{"refund applied twice", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops,
				ledgerOp{ID: "op_21", CustomerID: a, Type: "refund", Status: "complete", Amount: 50, PurchaseID: "pur_s1"},
				ledgerOp{ID: "op_22", CustomerID: a, Type: "refund", Status: "complete", Amount: -47, PurchaseID: "pur_s1"})
			lv.Purchases["s1"].Lines[0].Refunded = 2000
			setBalance(lv, a, func(b *balance) { b.Available += 3; b.PurchasesTotal = 0 })
			return h
		}, kinds{"balance", "purchase_ops", "refund_mismatch"}},
		{"acknowledged refund lost", func(h []*opRecord, lv *ledgerView) []*opRecord {
			drop(lv, "op_5", "op_6")
			lv.Purchases["s1"].Lines[0].Refunded = 0
			setBalance(lv, a, func(b *balance) { b.Available -= 3; b.PurchasesTotal = 2000 })
			return h
		}, kinds{"balance", "purchase_ops", "refund_mismatch"}},
		{"refund figures off the arithmetic", func(h []*opRecord, lv *ledgerView) []*opRecord {
			find(h, "r1").Refund.PointsReturned = 51
			op(lv, "op_5").Amount = 51
			setBalance(lv, a, func(b *balance) { b.Available++ })
			return h
		}, kinds{"refund_arithmetic"}},
		{"purchases_total ignores the refund", func(h []*opRecord, lv *ledgerView) []*opRecord {
			setBalance(lv, a, func(b *balance) { b.PurchasesTotal = 2000 })
			return h
		}, kinds{"balance"}},
		{"redemption above the available points", func(h []*opRecord, lv *ledgerView) []*opRecord {
			find(h, "s1").Purchase.Available = 50
			return h
		}, kinds{"overdraft"}},
		{"negative balance from a refund debt", func(h []*opRecord, lv *ledgerView) []*opRecord {
			find(h, "x1").Amount = 100
			find(h, "r1").Refund.Debt = 47
			op(lv, "op_1").Amount = 100
			setBalance(lv, a, func(b *balance) { b.Available = -102 })
			return h
		}, nil},
		{"negative balance without a refund debt", func(h []*opRecord, lv *ledgerView) []*opRecord {
			find(h, "x1").Amount = 100
			op(lv, "op_1").Amount = 100
			setBalance(lv, a, func(b *balance) { b.Available = -102 })
			return h
		}, kinds{"negative"}},
		{"confirm outcome unknown", func(h []*opRecord, lv *ledgerView) []*opRecord {
			find(h, "o1").Outcome = ok // the order itself was acknowledged
			for _, r := range h {
				if r.Kind == kindConfirm {
					r.Outcome, r.Purchase = unknown, nil
				}
			}
			return h
		}, kinds{"unresolved"}},
		{"refund rejected", func(h []*opRecord, lv *ledgerView) []*opRecord {
			r := find(h, "r1")
			r.Outcome, r.Refund, r.Answer = rejected, nil, "422 refund_exceeds_purchase"
			return h
		}, kinds{"rejected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lv := ledger()
			h := tt.spoil(hist(), &lv)
			var got kinds
			for _, v := range check(h, []string{a, b}, lv) {
				got = append(got, v.Kind)
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("check(%s) kinds mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}
