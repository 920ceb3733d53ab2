package calc_test

import (
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/kopilka/kopilka/internal/calc"
)

// genLine draws a valid receipt line: quantities favour the shapes shops
// send (1, 0.5 kg, 1.5, 0.333), prices small and large, discounts up to
// the whole line.
func genLine(t *rapid.T, label string) calc.Line {
	qty := rapid.OneOf(
		rapid.SampledFrom([]int64{1, 333, 500, 1000, 1500, 2000, 3000, 7000}),
		rapid.Int64Range(1, 5000),
		rapid.Int64Range(1, 1_000_000),
	).Draw(t, label+".quantity")
	price := rapid.OneOf(
		rapid.Int64Range(0, 1000),
		rapid.Int64Range(0, 10_000_000),
	).Draw(t, label+".price")
	gross := (price*qty + 500) / 1000
	discount := rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, gross)).Draw(t, label+".discount")
	return calc.Line{Quantity: qty, Price: price, Discount: discount,
		Excluded: rapid.Float64Range(0, 1).Draw(t, label+".excluded") < 0.2}
}

// genPercent draws a percentage in ten-thousandths of a percent, from 0
// to 100%, favouring round and decimal ones.
func genPercent(t *rapid.T, label string) int64 {
	return rapid.OneOf(
		rapid.SampledFrom([]int64{0, 1, pct3, pct5, pct2dot5, pct3dot75, pct30, pctThird, 1_000_000}),
		rapid.Int64Range(0, 1_000_000),
	).Draw(t, label)
}

func genRules(t *rapid.T) calc.Rules {
	return calc.Rules{
		AccrualPercent:   genPercent(t, "accrual_percent"),
		MaxRedeemPercent: genPercent(t, "max_redeem_percent"),
		MinLinePrice:     rapid.OneOf(rapid.SampledFrom([]int64{0, 1, 100}), rapid.Int64Range(0, 10_000)).Draw(t, "min_line_price"),
		AccrueOnTotal:    rapid.Bool().Draw(t, "accrue_on_total"),
		WholePoints:      rapid.Bool().Draw(t, "whole_points"),
	}
}

func genLines(t *rapid.T) []calc.Line {
	n := rapid.IntRange(1, 8).Draw(t, "lines")
	lines := make([]calc.Line, n)
	for i := range lines {
		lines[i] = genLine(t, "line")
	}
	return lines
}

func genAvailable(t *rapid.T) int64 {
	return rapid.OneOf(
		rapid.Int64Range(-10_000, 0), // a refund debt
		rapid.Int64Range(0, 100_000),
		rapid.Int64Range(0, 1_000_000_000_000_000),
	).Draw(t, "available")
}

// computeProperty prices a random receipt with a random request: a valid
// one must satisfy every invariant and agree with the contract exactly; one
// above the maximum must be refused with the contract's maximum.
func computeProperty(t *rapid.T) {
	lines, rules, available := genLines(t), genRules(t), genAvailable(t)
	spec, _ := specCompute(lines, rules, available, calc.RedeemMax)
	var redeem int64
	above := false
	switch rapid.IntRange(0, 3).Draw(t, "ask") {
	case 0:
		redeem = calc.RedeemMax
	case 1:
		redeem = rapid.Int64Range(0, spec.MaxRedeem).Draw(t, "redeem")
	case 2:
		redeem = rapid.Int64Range(spec.MaxRedeem+1, spec.MaxRedeem+1000).Draw(t, "redeem")
		above = true
	}
	rc, err := calc.Compute(lines, rules, available, redeem)
	if above {
		var le *calc.LimitError
		if !errors.As(err, &le) || *le != (calc.LimitError{Requested: redeem, Max: spec.MaxRedeem}) {
			t.Fatalf("Compute(redeem %d above max %d) = %+v, %v, want LimitError{%d, %d}", redeem, spec.MaxRedeem, rc, err, redeem, spec.MaxRedeem)
		}
		return
	}
	if err != nil {
		t.Fatalf("Compute(%+v, %+v, %d, %d) error = %v", lines, rules, available, redeem, err)
	}
	for _, p := range receiptProblems(lines, rules, available, redeem, rc) {
		t.Error(p)
	}
}

// TestComputeProperties: line sums equal the totals, redeem ≤ max_redeem,
// no line is taken below its minimum, accrual is never negative, and
// every figure is the contract's.
func TestComputeProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, computeProperty)
}

// genRefundSteps splits every line's quantity into up to four parts,
// shuffles all parts of all lines together and groups them into refunds
// of one to three parts; with partial, a tail of the refunds is dropped.
func genRefundSteps(t *rapid.T, lines []calc.Line) []refundStep {
	type part struct{ line, qty int64 }
	var parts []part
	for i, l := range lines {
		k := rapid.IntRange(1, 4).Draw(t, "parts")
		cuts := []int64{0, l.Quantity}
		if l.Quantity > 1 {
			for range k - 1 {
				cuts = append(cuts, rapid.Int64Range(1, l.Quantity-1).Draw(t, "cut"))
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for j := 1; j < len(cuts); j++ {
			parts = append(parts, part{int64(i), cuts[j] - cuts[j-1]})
		}
	}
	parts = rapid.Permutation(parts).Draw(t, "order")
	if rapid.Bool().Draw(t, "partial") {
		parts = parts[:rapid.IntRange(0, len(parts)).Draw(t, "kept")]
	}
	var steps []refundStep
	for len(parts) > 0 {
		n := min(len(parts), rapid.IntRange(1, 3).Draw(t, "step"))
		st := refundStep{}
		for _, p := range parts[:n] {
			st[int(p.line)] += p.qty
		}
		steps = append(steps, st)
		parts = parts[n:]
	}
	return steps
}

// refundProperty refunds a random confirmed receipt in a random split:
// every refund's figures are non-negative and the contract's, and the
// refunds of a whole line sum to one full refund.
func refundProperty(t *rapid.T) {
	lines, rules, available := genLines(t), genRules(t), genAvailable(t)
	rc, err := calc.Compute(lines, rules, available, calc.RedeemMax)
	if err != nil {
		t.Fatalf("Compute(%+v, %+v, %d, max) error = %v", lines, rules, available, err)
	}
	steps := genRefundSteps(t, lines)
	for _, p := range refundProblems(calc.Refund, lines, rc, rules.WholePoints, steps) {
		t.Error(p)
	}
}

// TestRefundProperties: refunds in any split, in any order, sum exactly to
// one full refund, and each partial refund is non-negative.
func TestRefundProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, refundProperty)
}

// TestAllocateProperties: an allocation sums to X exactly, matches the
// contract's rule, and no part is more than one unit off its exact share.
func TestAllocateProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		weights := rapid.SliceOfN(rapid.OneOf(rapid.Int64Range(0, 10), rapid.Int64Range(0, 1_000_000_000)), 1, 12).Draw(t, "weights")
		var sum int64
		for _, w := range weights {
			sum += w
		}
		if sum == 0 {
			weights[0], sum = 1, 1
		}
		x := rapid.OneOf(rapid.Int64Range(0, 100), rapid.Int64Range(0, 1_000_000_000_000_000)).Draw(t, "x")
		got, err := calc.Allocate(x, weights)
		if err != nil {
			t.Fatalf("Allocate(%d, %v) error = %v", x, weights, err)
		}
		var total int64
		for _, g := range got {
			total += g
		}
		if total != x {
			t.Fatalf("Allocate(%d, %v) = %v sums to %d, want %d", x, weights, got, total, x)
		}
		if want := specAllocate(x, weights); !slices.Equal(got, want) {
			t.Fatalf("Allocate(%d, %v) = %v, the contract says %v", x, weights, got, want)
		}
	})
}

// TestComputeReceiptProblems is the negative control of the receipt
// checker: every kind of wrong receipt is reported, a right one is not.
func TestComputeReceiptProblems(t *testing.T) {
	t.Parallel()
	rules := calc.Rules{AccrualPercent: pct3, MaxRedeemPercent: pct30, MinLinePrice: 100}
	good := func() *calc.Receipt {
		rc, err := calc.Compute(receiptLines, rules, 100000, calc.RedeemMax)
		if err != nil {
			t.Fatalf("Compute() error = %v", err)
		}
		return rc
	}
	if p := receiptProblems(receiptLines, rules, 100000, calc.RedeemMax, good()); len(p) != 0 {
		t.Fatalf("receiptProblems(right receipt) = %q, want none", p)
	}
	tests := []struct {
		name    string
		corrupt func(rc *calc.Receipt)
	}{
		{"LineRedeemOffTotal", func(rc *calc.Receipt) { rc.Lines[0].Redeem++; rc.Lines[0].ToPay-- }},
		{"PointMovedBetweenLines", func(rc *calc.Receipt) {
			rc.Lines[0].Redeem++
			rc.Lines[0].ToPay--
			rc.Lines[1].Redeem--
			rc.Lines[1].ToPay++
		}},
		{"AccrualMovedBetweenLines", func(rc *calc.Receipt) { rc.Lines[0].Accrue--; rc.Lines[3].Accrue++ }},
		{"ExcludedLineEarns", func(rc *calc.Receipt) { rc.Lines[2].Accrue++; rc.Accrue++ }},
		{"ToPayNotAmountLessRedeem", func(rc *calc.Receipt) { rc.Lines[3].ToPay++; rc.ToPay++ }},
		{"MaxRedeemWrong", func(rc *calc.Receipt) { rc.MaxRedeem++ }},
		{"RedeemAboveMax", func(rc *calc.Receipt) { rc.MaxRedeem-- }},
		{"AccrualOneHundredthShort", func(rc *calc.Receipt) { rc.Lines[0].Accrue--; rc.Accrue-- }},
		{"BelowMinimum", func(rc *calc.Receipt) {
			// Line 1 (100.00 × 2, minimum 2.00) taken to 1.99.
			d := rc.Lines[0].ToPay - 199
			rc.Lines[0].Redeem += d
			rc.Lines[0].ToPay = 199
			rc.Redeem += d
			rc.ToPay -= d
			rc.MaxRedeem = rc.Redeem
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := good()
			tt.corrupt(rc)
			if p := receiptProblems(receiptLines, rules, 100000, calc.RedeemMax, rc); len(p) == 0 {
				t.Errorf("receiptProblems(%+v) = none, want the %s reported", rc, tt.name)
			}
		})
	}
}

// TestRefundProblemsCatches is the negative control of the refund
// checker: a path-dependent refund (each refund floors its own share) and
// a refund that goes negative are reported; calc.Refund is not.
func TestRefundProblemsCatches(t *testing.T) {
	t.Parallel()
	lines := []calc.Line{{Quantity: 3000, Price: 10000}}
	// 10.00 of 300.00 redeemed: a third of it is 3.33⅓, so per-refund
	// flooring loses a hundredth.
	rc, err := calc.Compute(lines, calc.Rules{AccrualPercent: pct3, MaxRedeemPercent: pct30}, 100000, 1000)
	if err != nil {
		t.Fatalf("Compute() error = %v", err)
	}
	thirds := []refundStep{{0: 1000}, {0: 1000}, {0: 1000}}
	if p := refundProblems(calc.Refund, lines, rc, false, thirds); len(p) != 0 {
		t.Fatalf("refundProblems(calc.Refund) = %q, want none", p)
	}
	perStep := func(l calc.LineResult, q, _, now int64, _ bool) calc.RefundLine {
		return calc.RefundLine{Returned: l.Redeem * now / q, Revoked: l.Accrue * now / q, Amount: l.ToPay * now / q, Total: l.Amount * now / q}
	}
	negative := func(l calc.LineResult, q, before, now int64, whole bool) calc.RefundLine {
		r := calc.Refund(l, q, before, now, whole)
		if before == 0 {
			r.Revoked = -1
		}
		return r
	}
	for name, fn := range map[string]refundFunc{"PathDependent": perStep, "Negative": negative} {
		if p := refundProblems(fn, lines, rc, false, thirds); len(p) == 0 {
			t.Errorf("refundProblems(%s) = none, want problems", name)
		}
	}
}
