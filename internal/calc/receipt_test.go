package calc_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/calc"
)

// Percentages in calc.Rules are ten-thousandths of a percent.
const (
	pct3      = 30_000  // 3%
	pct5      = 50_000  // 5%
	pct30     = 300_000 // 30%
	pct2dot5  = 25_000  // 2.5%
	pct3dot75 = 37_500  // 3.75%
	pctTiny   = 1       // 0.0001%
	pctThird  = 333_333 // 33.3333%
)

// TestComputeLine checks one line's amount, round_half_up(price ×
// quantity) − discount, and its room, max(0, amount − ceil(min_line_price
// × quantity)), with fractional quantities.
func TestComputeLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		line                 calc.Line
		minPrice             int64
		wantAmount, wantRoom int64
	}{
		// 123.45 × 0.5 kg = 61.725 → 61.73 (half up); min 1.00 × 0.5 = 0.50.
		{"HalfKilo", calc.Line{Quantity: 500, Price: 12345}, 100, 6173, 6173 - 50},
		// 9.99 × 1.5 = 14.985 → 14.99, less 0.99 off = 14.00; min 1.50.
		{"OneAndHalfWithDiscount", calc.Line{Quantity: 1500, Price: 999, Discount: 99}, 100, 1400, 1250},
		// 1.00 × 0.333 = 0.333 → 0.33; min 1.00 × 0.333 = 0.333 → ceil 0.34:
		// the line is already below its minimum, no room.
		{"ThirdRoundsDownNoRoom", calc.Line{Quantity: 333, Price: 100}, 100, 33, 0},
		// 1.50 × 0.333 = 0.4995 → 0.50; min 0.10 × 0.333 = 0.0333 → ceil 0.04.
		{"ThirdRoundsUp", calc.Line{Quantity: 333, Price: 150}, 10, 50, 46},
		// 0.01 × 0.5 = 0.005: exactly half a hundredth rounds up.
		{"ExactlyHalfRoundsUp", calc.Line{Quantity: 500, Price: 1}, 0, 1, 1},
		// 0.01 × 0.499 = 0.00499 → 0.
		{"BelowHalfRoundsDown", calc.Line{Quantity: 499, Price: 1}, 0, 0, 0},
		// 129.99 × 2.345 = 304.82655 → 304.83; min 1.00 × 2.345 → ceil 2.35.
		{"ThreeDecimals", calc.Line{Quantity: 2345, Price: 12999}, 100, 30483, 30483 - 235},
		// 10.00 × 3 − 2.50 = 27.50; min 3.00.
		{"Discount", calc.Line{Quantity: 3000, Price: 1000, Discount: 250}, 100, 2750, 2450},
		{"DiscountTakesAll", calc.Line{Quantity: 1000, Price: 1000, Discount: 1000}, 100, 0, 0},
		{"FreeLine", calc.Line{Quantity: 1000, Price: 0}, 100, 0, 0},
		// 0.50 is below the 1.00 minimum: no room, never negative.
		{"BelowMinPrice", calc.Line{Quantity: 1000, Price: 50}, 100, 50, 0},
		// 49.90 × 12 = 598.80; min 12.00.
		{"ManyUnits", calc.Line{Quantity: 12000, Price: 4990}, 100, 59880, 58680},
		{"NoMinPrice", calc.Line{Quantity: 1000, Price: 4990}, 0, 4990, 4990},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, err := calc.Compute([]calc.Line{tt.line}, calc.Rules{MinLinePrice: tt.minPrice}, 0, 0)
			if err != nil {
				t.Fatalf("Compute(%+v) error = %v", tt.line, err)
			}
			if got := rc.Lines[0]; got.Amount != tt.wantAmount || got.Room != tt.wantRoom {
				t.Errorf("Compute(%+v, min %d) line = amount %d room %d, want amount %d room %d",
					tt.line, tt.minPrice, got.Amount, got.Room, tt.wantAmount, tt.wantRoom)
			}
			if rc.Total != tt.wantAmount {
				t.Errorf("Compute(%+v).Total = %d, want %d", tt.line, rc.Total, tt.wantAmount)
			}
		})
	}
}

// TestComputeLineErrors: lines that cannot be priced are refused with the
// line (from 1) and the field at fault.
func TestComputeLineErrors(t *testing.T) {
	t.Parallel()
	ok := calc.Line{Quantity: 1000, Price: 100}
	tests := []struct {
		name string
		bad  calc.Line
		want calc.LineError
	}{
		{"ZeroQuantity", calc.Line{Quantity: 0, Price: 100}, calc.LineError{Line: 2, Field: "quantity"}},
		{"NegativeQuantity", calc.Line{Quantity: -1, Price: 100}, calc.LineError{Line: 2, Field: "quantity"}},
		{"NegativePrice", calc.Line{Quantity: 1000, Price: -1}, calc.LineError{Line: 2, Field: "price"}},
		{"NegativeDiscount", calc.Line{Quantity: 1000, Price: 100, Discount: -1}, calc.LineError{Line: 2, Field: "discount"}},
		// 1.00 × 1 − 1.01 would be a negative amount.
		{"DiscountAbovePrice", calc.Line{Quantity: 1000, Price: 100, Discount: 101}, calc.LineError{Line: 2, Field: "discount"}},
		{"PriceOutOfRange", calc.Line{Quantity: 1000, Price: 1<<62 - 1}, calc.LineError{Line: 2, Field: "price"}},
		{"ProductOutOfRange", calc.Line{Quantity: 1_000_000_000_000, Price: 1_000_000_000_000}, calc.LineError{Line: 2, Field: "price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, err := calc.Compute([]calc.Line{ok, tt.bad}, calc.Rules{}, 0, 0)
			var le *calc.LineError
			if !errors.As(err, &le) {
				t.Fatalf("Compute(%+v) = %+v, %v, want a *LineError", tt.bad, rc, err)
			}
			if le.Line != tt.want.Line || le.Field != tt.want.Field {
				t.Errorf("Compute(%+v) error = line %d field %q, want line %d field %q", tt.bad, le.Line, le.Field, tt.want.Line, tt.want.Field)
			}
		})
	}
}

// receiptLines is the receipt most tests below price:
//
//	1: 100.00 × 2            amount 20000, room 20000 − ceil(100×2)   = 19800
//	2: 123.45 × 0.5 kg       amount  6173, room  6173 − ceil(100×0.5) =  6123
//	3: 200.00 × 1, excluded  amount 20000, no room
//	4: 9.99 × 1.5 − 0.99     amount  1400, room  1400 − ceil(100×1.5) =  1250
//
// total 47573, eligible 27573, Σ room 27173 (with min_line_price 1.00).
var receiptLines = []calc.Line{
	{Quantity: 2000, Price: 10000},
	{Quantity: 500, Price: 12345},
	{Quantity: 1000, Price: 20000, Excluded: true},
	{Quantity: 1500, Price: 999, Discount: 99},
}

// amounts and rooms of receiptLines with min_line_price 1.00.
var (
	receiptAmounts = []int64{20000, 6173, 20000, 1400}
	receiptRooms   = []int64{19800, 6123, 0, 1250}
)

// receipt builds the expected Receipt of receiptLines from per-line
// redeem and accrue; to_pay and the sums follow from them.
func receipt(maxRedeem int64, rooms, redeem, accrue []int64) *calc.Receipt {
	rc := &calc.Receipt{MaxRedeem: maxRedeem, Eligible: 27573}
	for i, a := range receiptAmounts {
		lr := calc.LineResult{Amount: a, Room: rooms[i], Redeem: redeem[i], ToPay: a - redeem[i], Accrue: accrue[i]}
		rc.Lines = append(rc.Lines, lr)
		rc.Total += a
		rc.Redeem += lr.Redeem
		rc.ToPay += lr.ToPay
		rc.Accrue += lr.Accrue
	}
	return rc
}

// TestCompute prices receiptLines under different rules. Every figure is
// worked out by hand from API-CORE in the row's comment.
func TestCompute(t *testing.T) {
	t.Parallel()
	base := calc.Rules{AccrualPercent: pct3, MaxRedeemPercent: pct30, MinLinePrice: 100}
	with := func(edit func(r *calc.Rules)) calc.Rules {
		r := base
		edit(&r)
		return r
	}
	tests := []struct {
		name      string
		rules     calc.Rules
		available int64
		redeem    int64
		want      *calc.Receipt
	}{
		// max_redeem = min(1000.00, floor(27573 × 30/100) = floor(8271.9)
		// = 8271, Σ room 27173) = 8271. Spread over rooms
		// {19800, 6123, 0, 1250} / 27173: 6026.78, 1863.74, 0, 380.48 →
		// floors 8269, two left to .78 and .74 → {6027, 1864, 0, 380}.
		// to_pay {13973, 4309, 20000, 1020}; paid base 13973 + 4309 + 1020
		// = 19302 → accrue floor(579.06) = 579 spread over the bases:
		// 419.15, 129.26, 0, 30.60 → floors 578, one left to .60 →
		// {419, 129, 0, 31}.
		{"PaidMax", base, 100000, calc.RedeemMax,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{419, 129, 0, 31})},
		// The same asked explicitly.
		{"PaidExactMax", base, 100000, 8271,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{419, 129, 0, 31})},
		// accrue_on total: base = eligible amounts 27573 → floor(827.19) =
		// 827 over {20000, 6173, 0, 1400}: 599.86, 185.15, 0, 41.99 →
		// floors 825, two left to .99 and .86 → {600, 185, 0, 42}.
		{"TotalBase", with(func(r *calc.Rules) { r.AccrueOnTotal = true }), 100000, calc.RedeemMax,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{600, 185, 0, 42})},
		// 2.5% of 19302 = 482.55 → 482 over the paid bases: 348.93,
		// 107.60, 0, 25.47 → floors 480, two left to .93 and .60.
		{"Percent2.5", with(func(r *calc.Rules) { r.AccrualPercent = pct2dot5 }), 100000, calc.RedeemMax,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{349, 108, 0, 25})},
		// 3.75% of 19302 = 723.825 → 723: 523.39, 161.40, 0, 38.21 →
		// floors 722, one left to .40.
		{"Percent3.75", with(func(r *calc.Rules) { r.AccrualPercent = pct3dot75 }), 100000, calc.RedeemMax,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{523, 162, 0, 38})},
		// 0.0001% of 19302 = 0.019302 → 0.
		{"PercentTiny", with(func(r *calc.Rules) { r.AccrualPercent = pctTiny }), 100000, calc.RedeemMax,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{0, 0, 0, 0})},
		// Whole points: 579 → 500, spread as 5 whole points over the paid
		// bases: 3.62, 1.12, 0, 0.26 → floors 4, one left to .62.
		{"WholePoints", with(func(r *calc.Rules) { r.WholePoints = true }), 100000, calc.RedeemMax,
			receipt(8271, receiptRooms, []int64{6027, 1864, 0, 380}, []int64{400, 100, 0, 0})},
		// 33.3333% of 27573 = 9190.99 → 9190 (Σ room 27173 is above):
		// 6696.43, 2070.82, 0, 422.75 → floors 9188, two left to .82 and
		// .75 → {6696, 2071, 0, 423}; base 13304 + 4102 + 977 = 18383 →
		// 551.49 → 551: 398.77, 122.95, 0, 29.28 → floors 549, two left to
		// .95 and .77.
		{"DecimalMaxRedeemPercent", with(func(r *calc.Rules) { r.MaxRedeemPercent = pctThird }), 100000, calc.RedeemMax,
			receipt(9190, receiptRooms, []int64{6696, 2071, 0, 423}, []int64{399, 123, 0, 29})},
		// The balance limits: max_redeem = 50.00: 3643.32, 1126.67, 0,
		// 230.00… (5000·1250/27173 = 230.01) → floors 4999, one left to
		// .67 → {3643, 1127, 0, 230}; base 16357 + 5046 + 1170 = 22573 →
		// 677.19 → 677: 490.57, 151.34, 0, 35.09 → floors 676, one to .57.
		{"AvailableLimits", base, 5000, calc.RedeemMax,
			receipt(5000, receiptRooms, []int64{3643, 1127, 0, 230}, []int64{491, 151, 0, 35})},
		// min_line_price 90.00: rooms 20000 − 18000 = 2000, 6173 − 4500 =
		// 1673, line 4 below its minimum → Σ room 3673 < 8271: the room
		// limits, and redeeming it leaves each line at exactly its minimum.
		// base 18000 + 4500 + 1400 = 23900 → 717: 540, 135, 0, 42 exactly.
		{"RoomLimits", with(func(r *calc.Rules) { r.MinLinePrice = 9000 }), 100000, calc.RedeemMax,
			receipt(3673, []int64{2000, 1673, 0, 0}, []int64{2000, 1673, 0, 0}, []int64{540, 135, 0, 42})},
		// 10.00 asked: 728.66, 225.33, 0, 46.00 (1000·1250/27173 = 46.001)
		// → floors 999, one left to .66; base 19271 + 5948 + 1354 = 26573
		// → 797.19 → 797: 578.00… (797·19271/26573 = 577.99), 178.39, 0,
		// 40.61 → floors 577 + 178 + 40 = 795, two left to .99 and .61.
		{"PartialRedeem", base, 100000, 1000,
			receipt(8271, receiptRooms, []int64{729, 225, 0, 46}, []int64{578, 178, 0, 41})},
		// Nothing asked: base 27573 → 827 as in TotalBase.
		{"NoRedeem", base, 100000, 0,
			receipt(8271, receiptRooms, []int64{0, 0, 0, 0}, []int64{600, 185, 0, 42})},
		// No balance: max_redeem 0, "max" takes nothing.
		{"NoBalance", base, 0, calc.RedeemMax,
			receipt(0, receiptRooms, []int64{0, 0, 0, 0}, []int64{600, 185, 0, 42})},
		// A refund debt (available −5.00): max_redeem is 0, never negative.
		{"Debt", base, -500, calc.RedeemMax,
			receipt(0, receiptRooms, []int64{0, 0, 0, 0}, []int64{600, 185, 0, 42})},
		{"DebtNoRedeem", base, -500, 0,
			receipt(0, receiptRooms, []int64{0, 0, 0, 0}, []int64{600, 185, 0, 42})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := calc.Compute(receiptLines, tt.rules, tt.available, tt.redeem)
			if err != nil {
				t.Fatalf("Compute(available %d, redeem %d) error = %v", tt.available, tt.redeem, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compute(available %d, redeem %d) mismatch (-want +got):\n%s", tt.available, tt.redeem, diff)
			}
			// The oracle of the properties agrees with the hand figures.
			if spec, limited := specCompute(receiptLines, tt.rules, tt.available, tt.redeem); limited || !cmp.Equal(tt.want, spec) {
				t.Errorf("specCompute(available %d, redeem %d) = %+v (limited %t), want the hand figures %+v", tt.available, tt.redeem, spec, limited, tt.want)
			}
		})
	}
}

// TestComputeExcluded: excluded lines neither earn nor take points, and a
// receipt of excluded lines only has nothing to redeem or accrue.
func TestComputeExcluded(t *testing.T) {
	t.Parallel()
	rules := calc.Rules{AccrualPercent: pct5, MaxRedeemPercent: 1_000_000, MinLinePrice: 0}
	lines := []calc.Line{{Quantity: 1000, Price: 20000, Excluded: true}, {Quantity: 2500, Price: 400, Excluded: true}}
	got, err := calc.Compute(lines, rules, 1_000_000, calc.RedeemMax)
	if err != nil {
		t.Fatalf("Compute(excluded lines) error = %v", err)
	}
	// 200.00 + 4.00 × 2.5 = 210.00 to pay in full.
	want := &calc.Receipt{Total: 21000, ToPay: 21000, Lines: []calc.LineResult{
		{Amount: 20000, ToPay: 20000}, {Amount: 1000, ToPay: 1000}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Compute(excluded lines) mismatch (-want +got):\n%s", diff)
	}
	_, err = calc.Compute(lines, rules, 1_000_000, 1)
	var le *calc.LimitError
	if !errors.As(err, &le) || *le != (calc.LimitError{Requested: 1, Max: 0}) {
		t.Errorf("Compute(excluded lines, redeem 1) error = %v, want LimitError{1, 0}", err)
	}
}

// TestComputeRedeemLimit: a redemption above max_redeem is refused with
// the maximum (the API's redeem_limit_exceeded).
func TestComputeRedeemLimit(t *testing.T) {
	t.Parallel()
	rules := calc.Rules{AccrualPercent: pct3, MaxRedeemPercent: pct30, MinLinePrice: 100}
	tests := []struct {
		name      string
		available int64
		redeem    int64
		want      calc.LimitError
	}{
		{"OneAbovePercentLimit", 100000, 8272, calc.LimitError{Requested: 8272, Max: 8271}},
		{"AboveBalance", 5000, 5001, calc.LimitError{Requested: 5001, Max: 5000}},
		{"NoBalance", 0, 1, calc.LimitError{Requested: 1, Max: 0}},
		{"Debt", -500, 1, calc.LimitError{Requested: 1, Max: 0}},
		{"NegativeAsked", 100000, -5, calc.LimitError{Requested: -5, Max: 8271}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, err := calc.Compute(receiptLines, rules, tt.available, tt.redeem)
			var le *calc.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Compute(available %d, redeem %d) = %+v, %v, want a *LimitError", tt.available, tt.redeem, rc, err)
			}
			if *le != tt.want {
				t.Errorf("Compute(available %d, redeem %d) error = %+v, want %+v", tt.available, tt.redeem, *le, tt.want)
			}
		})
	}
}

// TestShare checks the cumulative refund share floor(F × Q / q), exactly
// F once Q = q, floored to whole points for accrual when asked.
func TestShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		f, refunded, quantity int64
		whole                 bool
		want                  int64
	}{
		{"None", 1000, 0, 3000, false, 0},
		{"OneThird", 1000, 1000, 3000, false, 333},         // 333.33
		{"TwoThirds", 1000, 2000, 3000, false, 666},        // 666.67
		{"AllIsExact", 1000, 3000, 3000, false, 1000},      // not 999
		{"FractionalQuantity", 579, 333, 1000, false, 192}, // 579 × 0.333 = 192.807
		{"HalfOfHalfKilo", 6173, 250, 500, false, 3086},    // 3086.5
		{"WholeOneThird", 1700, 1000, 3000, true, 500},     // 566.67 → 566 → 500
		{"WholeTwoThirds", 1700, 2000, 3000, true, 1100},   // 1133.33 → 1100
		{"WholeAllIsExact", 1750, 3000, 3000, true, 1750},  // F itself, even off whole points
		{"WholeBelowOnePoint", 1700, 100, 3000, true, 0},   // 56.67 → 0
		{"ZeroFigure", 0, 1000, 3000, false, 0},
		{"Huge", 1_000_000_000_000_000, 1, 3, false, 333_333_333_333_333},
		{"HugeQuantity", 999_999_999_999, 999_999_999_999, 1_000_000_000_000, false, 999_999_999_998},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := calc.Share(tt.f, tt.refunded, tt.quantity, tt.whole); got != tt.want {
				t.Errorf("Share(%d, %d, %d, %t) = %d, want %d", tt.f, tt.refunded, tt.quantity, tt.whole, got, tt.want)
			}
		})
	}
}

// TestRefund checks what each of several refunds of a line takes: the
// difference of the cumulative shares before and after it.
func TestRefund(t *testing.T) {
	t.Parallel()
	type step struct {
		now  int64
		want calc.RefundLine
	}
	tests := []struct {
		name     string
		line     calc.LineResult
		quantity int64
		whole    bool
		steps    []step
	}{
		// Line 1 of PaidMax: amount 20000, redeem 6027, to_pay 13973,
		// accrue 419, quantity 2 — refunded one unit at a time:
		// half: 10000, 3013 (3013.5), 6986 (6986.5), 209 (209.5); the rest
		// after it.
		{"TwoUnits", calc.LineResult{Amount: 20000, Redeem: 6027, ToPay: 13973, Accrue: 419}, 2000, false, []step{
			{1000, calc.RefundLine{Returned: 3013, Revoked: 209, Amount: 6986, Total: 10000}},
			{1000, calc.RefundLine{Returned: 3014, Revoked: 210, Amount: 6987, Total: 10000}},
		}},
		// A third at a time of quantity 3: cumulative 1/3: 6666, 2009,
		// 4657, 139; 2/3: 13333, 4018, 9315, 279; 3/3: exact.
		{"Thirds", calc.LineResult{Amount: 20000, Redeem: 6027, ToPay: 13973, Accrue: 419}, 3000, false, []step{
			{1000, calc.RefundLine{Returned: 2009, Revoked: 139, Amount: 4657, Total: 6666}},
			{1000, calc.RefundLine{Returned: 2009, Revoked: 140, Amount: 4658, Total: 6667}},
			{1000, calc.RefundLine{Returned: 2009, Revoked: 140, Amount: 4658, Total: 6667}},
		}},
		// Line 2 of PaidMax, 0.5 kg: 0.2 kg (40%) then the rest:
		// 6173 × .4 = 2469.2, 1864 × .4 = 745.6, 4309 × .4 = 1723.6,
		// 129 × .4 = 51.6.
		{"Kilos", calc.LineResult{Amount: 6173, Redeem: 1864, ToPay: 4309, Accrue: 129}, 500, false, []step{
			{200, calc.RefundLine{Returned: 745, Revoked: 51, Amount: 1723, Total: 2469}},
			{300, calc.RefundLine{Returned: 1864 - 745, Revoked: 129 - 51, Amount: 4309 - 1723, Total: 6173 - 2469}},
		}},
		// Whole points: accrual shares 500, 1100, 1700 → steps 500, 600,
		// 600; the other figures are not rounded to points.
		{"WholePoints", calc.LineResult{Amount: 30000, Redeem: 100, ToPay: 29900, Accrue: 1700}, 3000, true, []step{
			{1000, calc.RefundLine{Returned: 33, Revoked: 500, Amount: 9966, Total: 10000}},
			{1000, calc.RefundLine{Returned: 33, Revoked: 600, Amount: 9967, Total: 10000}},
			{1000, calc.RefundLine{Returned: 34, Revoked: 600, Amount: 9967, Total: 10000}},
		}},
		{"AllAtOnce", calc.LineResult{Amount: 6173, Redeem: 1864, ToPay: 4309, Accrue: 129}, 500, true, []step{
			{500, calc.RefundLine{Returned: 1864, Revoked: 129, Amount: 4309, Total: 6173}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var before int64
			for i, s := range tt.steps {
				got := calc.Refund(tt.line, tt.quantity, before, s.now, tt.whole)
				if got != s.want {
					t.Errorf("step %d: Refund(%+v, %d, before %d, now %d, %t) = %+v, want %+v",
						i+1, tt.line, tt.quantity, before, s.now, tt.whole, got, s.want)
				}
				before += s.now
			}
		})
	}
}
