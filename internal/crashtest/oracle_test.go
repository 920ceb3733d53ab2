package crashtest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
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

// opRecord is the client's history of one adjustment.
type opRecord struct {
	N          int
	CustomerID string
	Amount     int64
	Key        string
	ExternalID string
	Outcome    outcome
	OpID       string // the operation id of a 201
	Answer     string // the definitive answer, for rejected
	Attempts   int
	Unknowns   int  // attempts that got no definitive answer
	Replayed   bool // the definitive answer was a stored one
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

// check is the shared oracle O1–O3 over the client's history and the
// ledger read back after the run. Kinds:
//
//	unresolved      an operation whose outcome stayed unknown (or was never finished)
//	rejected        an answer that is neither 201 nor insufficient_points
//	lost            acknowledged (201) but absent from the ledger
//	mismatch        acknowledged, but the ledger's operation differs (id, customer, amount, type, status)
//	duplicate       two ledger operations with one external_id
//	refused_applied acknowledged as refused, yet present in the ledger
//	unacknowledged  a ledger operation no client operation accounts for (a double effect)
//	balance         a balance differs from the acknowledged operations or from its ledger operations
//	negative        a balance below zero
func check(hist []*opRecord, customers []string, lv ledgerView) []violation {
	var vs []violation
	add := func(kind, customer, ext, format string, args ...any) {
		vs = append(vs, violation{Kind: kind, CustomerID: customer, ExternalID: ext, Detail: fmt.Sprintf(format, args...)})
	}
	byExt := map[string][]ledgerOp{}
	ledgerSum := map[string]int64{}
	for _, op := range lv.Ops {
		if op.Status == "complete" {
			ledgerSum[op.CustomerID] += op.Amount
		}
		if op.ExternalID != "" {
			byExt[op.ExternalID] = append(byExt[op.ExternalID], op)
		}
	}
	known := map[string]*opRecord{}
	expected := map[string]int64{}
	for _, r := range hist {
		known[r.ExternalID] = r
		ops := byExt[r.ExternalID]
		switch r.Outcome {
		case ok:
			expected[r.CustomerID] += r.Amount
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
		default:
			add("unresolved", r.CustomerID, r.ExternalID, "outcome %s after %d attempts", r.Outcome, r.Attempts)
			if len(ops) > 0 {
				expected[r.CustomerID] += r.Amount // it happened; count it so the balance check names the real fault
			}
		}
	}
	for ext, ops := range byExt {
		if len(ops) > 1 {
			add("duplicate", ops[0].CustomerID, ext, "%d operations", len(ops))
		}
	}
	for _, op := range lv.Ops {
		if op.ExternalID == "" || known[op.ExternalID] == nil {
			add("unacknowledged", op.CustomerID, op.ExternalID, "ledger operation %s %s of %d", op.ID, op.Type, op.Amount)
		}
	}
	for _, c := range customers {
		b := lv.Balances[c]
		if b.Available != expected[c] || b.Available != ledgerSum[c] || b.Pending != 0 {
			add("balance", c, "", "available %d pending %d; acknowledged operations sum to %d, ledger operations to %d",
				b.Available, b.Pending, expected[c], ledgerSum[c])
		}
		if b.Available < 0 {
			add("negative", c, "", "available %d", b.Available)
		}
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.CustomerID, b.CustomerID), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	return vs
}

// TestCheck is the oracle's own negative control: each row breaks one
// property on made-up data and the oracle must name exactly that breach.
func TestCheck(t *testing.T) {
	t.Parallel()
	const a, b = "cus_a", "cus_b"
	// The clean world: a +500 and a -200 on a, a refused -900 on b.
	hist := func() []*opRecord {
		return []*opRecord{
			{N: 1, CustomerID: a, Amount: 500, ExternalID: "x1", Outcome: ok, OpID: "op_1"},
			{N: 2, CustomerID: a, Amount: -200, ExternalID: "x2", Outcome: ok, OpID: "op_2"},
			{N: 3, CustomerID: b, Amount: -900, ExternalID: "x3", Outcome: refused},
		}
	}
	ledger := func() ledgerView {
		return ledgerView{
			Ops: []ledgerOp{
				{ID: "op_2", CustomerID: a, Type: "adjustment", Status: "complete", Amount: -200, ExternalID: "x2"},
				{ID: "op_1", CustomerID: a, Type: "adjustment", Status: "complete", Amount: 500, ExternalID: "x1"},
			},
			Balances: map[string]balance{a: {Available: 300}, b: {}},
		}
	}
	type kinds []string
	tests := []struct {
		name  string
		spoil func(h []*opRecord, lv *ledgerView) []*opRecord
		want  kinds
	}{
		{"clean", func(h []*opRecord, lv *ledgerView) []*opRecord { return h }, nil},
		{"acknowledged operation lost", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = lv.Ops[:1] // op_1 vanished; its lot kept the balance
			return h
		}, kinds{"balance", "lost"}},
		{"applied twice under a new external id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_9", CustomerID: a, Type: "adjustment", Status: "complete", Amount: 500, ExternalID: "x1-retry"})
			lv.Balances[a] = balance{Available: 800}
			return h
		}, kinds{"balance", "unacknowledged"}},
		{"one external id twice", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_9", CustomerID: a, Type: "adjustment", Status: "complete", Amount: 500, ExternalID: "x1"})
			lv.Balances[a] = balance{Available: 800}
			return h
		}, kinds{"balance", "duplicate"}},
		{"refusal applied", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_3", CustomerID: b, Type: "adjustment", Status: "complete", Amount: -900, ExternalID: "x3"})
			lv.Balances[b] = balance{Available: -900}
			return h
		}, kinds{"balance", "negative", "refused_applied"}},
		{"balance drifted from its operations", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Balances[a] = balance{Available: 301}
			return h
		}, kinds{"balance"}},
		{"points left pending", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Balances[b] = balance{Pending: 5}
			return h
		}, kinds{"balance"}},
		{"ledger amount differs from the acknowledgement", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops[1].Amount = 50
			lv.Balances[a] = balance{Available: -150}
			return h
		}, kinds{"balance", "mismatch", "negative"}},
		{"another operation id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops[1].ID = "op_other"
			return h
		}, kinds{"mismatch"}},
		{"outcome unknown", func(h []*opRecord, lv *ledgerView) []*opRecord {
			return append(h, &opRecord{N: 4, CustomerID: b, Amount: 100, ExternalID: "x4", Outcome: unknown})
		}, kinds{"unresolved"}},
		{"unknown outcome that happened", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_4", CustomerID: b, Type: "adjustment", Status: "complete", Amount: 100, ExternalID: "x4"})
			lv.Balances[b] = balance{Available: 100}
			return append(h, &opRecord{N: 4, CustomerID: b, Amount: 100, ExternalID: "x4", Outcome: unknown})
		}, kinds{"unresolved"}},
		{"unexpected answer", func(h []*opRecord, lv *ledgerView) []*opRecord {
			return append(h, &opRecord{N: 4, CustomerID: b, Amount: 100, ExternalID: "x4", Outcome: rejected, Answer: "409 conflict"})
		}, kinds{"rejected"}},
		{"operation without external id", func(h []*opRecord, lv *ledgerView) []*opRecord {
			lv.Ops = append(lv.Ops, ledgerOp{ID: "op_5", CustomerID: b, Type: "bonus", Status: "complete", Amount: 100})
			lv.Balances[b] = balance{Available: 100}
			return h
		}, kinds{"balance", "unacknowledged"}},
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
