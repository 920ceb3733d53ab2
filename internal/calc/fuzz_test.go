package calc_test

import (
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/kopilka/kopilka/internal/calc"
)

// wildComputeProperty feeds Compute arbitrary figures, valid or not: it
// must not panic, must refuse only with its documented errors, and what
// it prices must satisfy every invariant and agree with the contract.
func wildComputeProperty(t *rapid.T) {
	any64 := rapid.OneOf(rapid.Int64(), rapid.Int64Range(-2, 2000), rapid.Int64Range(0, 1_000_000_000_000_000))
	n := rapid.IntRange(0, 6).Draw(t, "lines")
	lines := make([]calc.Line, n)
	for i := range lines {
		lines[i] = calc.Line{Quantity: any64.Draw(t, "quantity"), Price: any64.Draw(t, "price"),
			Discount: any64.Draw(t, "discount"), Excluded: rapid.Bool().Draw(t, "excluded")}
	}
	rules := calc.Rules{AccrualPercent: any64.Draw(t, "accrual_percent"), MaxRedeemPercent: any64.Draw(t, "max_redeem_percent"),
		MinLinePrice: any64.Draw(t, "min_line_price"), AccrueOnTotal: rapid.Bool().Draw(t, "accrue_on_total"),
		WholePoints: rapid.Bool().Draw(t, "whole_points")}
	available := any64.Draw(t, "available")
	redeem := rapid.OneOf(rapid.Just(int64(calc.RedeemMax)), any64).Draw(t, "redeem")
	rc, err := calc.Compute(lines, rules, available, redeem)
	var le *calc.LimitError
	var line *calc.LineError
	switch {
	case errors.As(err, &le):
		if le.Requested != redeem || (redeem <= le.Max && redeem >= 0) {
			t.Fatalf("Compute(redeem %d) = LimitError %+v, want one only for a redemption above the maximum", redeem, *le)
		}
	case errors.As(err, &line):
		if line.Line < 1 || line.Line > len(lines) {
			t.Fatalf("Compute() = LineError on line %d of %d", line.Line, len(lines))
		}
	case errors.Is(err, calc.ErrOverflow):
	case err != nil:
		t.Fatalf("Compute() error = %v, want LimitError, LineError or ErrOverflow", err)
	default:
		// Priced: only sane inputs may be priced.
		for i, l := range lines {
			if l.Quantity <= 0 || l.Price < 0 || l.Discount < 0 {
				t.Fatalf("Compute() priced line %d %+v", i+1, l)
			}
		}
		if rules.AccrualPercent < 0 || rules.MaxRedeemPercent < 0 || rules.MinLinePrice < 0 {
			// Out of the programme's domain: no oracle; the sums must hold.
			return
		}
		for _, p := range receiptProblems(lines, rules, available, redeem, rc) {
			t.Error(p)
		}
	}
}

// FuzzCompute prices random receipts under random rules: valid ones
// against the contract and its invariants, wild ones for panics and
// undocumented refusals.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		if rapid.Bool().Draw(t, "wild") {
			wildComputeProperty(t)
			return
		}
		computeProperty(t)
	}))
}

// FuzzRefund refunds random receipts in random splits: path
// independence, non-negative refunds and the contract's shares.
func FuzzRefund(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9})
	f.Fuzz(rapid.MakeFuzz(refundProperty))
}

// TestWildCompute runs the wild half of FuzzCompute as a plain test.
func TestWildCompute(t *testing.T) {
	t.Parallel()
	rapid.Check(t, wildComputeProperty)
}
