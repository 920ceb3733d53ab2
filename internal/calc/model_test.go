package calc_test

import (
	"fmt"
	"math/big"
	"sort"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/calc"
)

// The oracle below is API-CORE "The arithmetic" written again from its
// text, with exact rationals (math/big) and none of calc's code, so that
// the properties compare Compute and Refund with the contract itself.

// rat is n/d.
func rat(n, d int64) *big.Rat { return big.NewRat(n, d) }

// floorRat is floor(x) for x ≥ 0.
func floorRat(x *big.Rat) int64 {
	return new(big.Int).Quo(x.Num(), x.Denom()).Int64()
}

// ceilRat is ceil(x) for x ≥ 0.
func ceilRat(x *big.Rat) int64 {
	q, m := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// specAllocate spreads x over weights: floor(x·w_i/Σw) each, then the
// remainder one unit at a time to the largest fractional parts, ties to
// the earlier line.
func specAllocate(x int64, w []int64) []int64 {
	out := make([]int64, len(w))
	var sum int64
	for _, v := range w {
		sum += v
	}
	if x == 0 || sum == 0 {
		return out
	}
	frac := make([]*big.Rat, len(w))
	var given int64
	for i, v := range w {
		share := new(big.Rat).Mul(big.NewRat(x, 1), rat(v, sum))
		out[i] = floorRat(share)
		frac[i] = share.Sub(share, big.NewRat(out[i], 1))
		given += out[i]
	}
	order := make([]int, len(w))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return frac[order[a]].Cmp(frac[order[b]]) > 0 })
	for _, i := range order[:x-given] {
		out[i]++
	}
	return out
}

// percentOf is floor(v × p%) with p in ten-thousandths of a percent.
func percentOf(v, p int64) int64 {
	return floorRat(new(big.Rat).Mul(big.NewRat(v, 1), rat(p, 1_000_000)))
}

// specCompute prices a receipt by the contract. It returns the
// receipt, or the maximum when redeem is above it (limited true).
func specCompute(lines []calc.Line, r calc.Rules, available, redeem int64) (rc *calc.Receipt, limited bool) {
	rc = &calc.Receipt{Lines: make([]calc.LineResult, len(lines))}
	rooms := make([]int64, len(lines))
	var roomSum int64
	for i, l := range lines {
		q := rat(l.Quantity, 1000)
		gross := new(big.Rat).Mul(big.NewRat(l.Price, 1), q)
		amount := floorRat(gross.Add(gross, rat(1, 2))) - l.Discount // round half up
		rc.Lines[i].Amount = amount
		rc.Total += amount
		if l.Excluded {
			continue
		}
		rc.Eligible += amount
		minimum := ceilRat(new(big.Rat).Mul(big.NewRat(r.MinLinePrice, 1), q))
		rooms[i] = max(0, amount-minimum)
		rc.Lines[i].Room = rooms[i]
		roomSum += rooms[i]
	}
	rc.MaxRedeem = max(0, min(available, percentOf(rc.Eligible, r.MaxRedeemPercent), roomSum))
	rc.Redeem = redeem
	if redeem == calc.RedeemMax {
		rc.Redeem = rc.MaxRedeem
	}
	if rc.Redeem > rc.MaxRedeem {
		return rc, true
	}
	redeemed := specAllocate(rc.Redeem, rooms)
	bases := make([]int64, len(lines))
	var base int64
	for i, l := range lines {
		lr := &rc.Lines[i]
		lr.Redeem = redeemed[i]
		lr.ToPay = lr.Amount - lr.Redeem
		rc.ToPay += lr.ToPay
		if l.Excluded {
			continue
		}
		bases[i] = lr.ToPay
		if r.AccrueOnTotal {
			bases[i] = lr.Amount
		}
		base += bases[i]
	}
	rc.Accrue = percentOf(base, r.AccrualPercent)
	var accrued []int64
	if r.WholePoints {
		rc.Accrue -= rc.Accrue % 100
		accrued = specAllocate(rc.Accrue/100, bases)
		for i := range accrued {
			accrued[i] *= 100
		}
	} else {
		accrued = specAllocate(rc.Accrue, bases)
	}
	for i := range rc.Lines {
		rc.Lines[i].Accrue = accrued[i]
	}
	return rc, false
}

// specShare is the cumulative share of F for Q of q refunded.
func specShare(f, refunded, quantity int64, whole bool) int64 {
	if refunded == quantity {
		return f
	}
	s := floorRat(new(big.Rat).Mul(big.NewRat(f, 1), rat(refunded, quantity)))
	if whole {
		s = s / 100 * 100
	}
	return s
}

// receiptProblems checks a computed receipt against the contract's
// invariants and against the oracle; nil means none found.
func receiptProblems(lines []calc.Line, r calc.Rules, available, redeem int64, got *calc.Receipt) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(got.Lines) != len(lines) {
		return []string{fmt.Sprintf("%d result lines for %d lines", len(got.Lines), len(lines))}
	}
	var amount, eligible, red, toPay, accrue int64
	for i, lr := range got.Lines {
		amount += lr.Amount
		red += lr.Redeem
		toPay += lr.ToPay
		accrue += lr.Accrue
		if lr.ToPay != lr.Amount-lr.Redeem {
			bad("line %d: to_pay %d ≠ amount %d − redeem %d", i+1, lr.ToPay, lr.Amount, lr.Redeem)
		}
		if lr.Redeem < 0 || lr.Accrue < 0 || lr.ToPay < 0 {
			bad("line %d: negative figure %+v", i+1, lr)
		}
		if lines[i].Excluded {
			if lr.Redeem != 0 || lr.Accrue != 0 {
				bad("line %d is excluded but redeems %d, accrues %d", i+1, lr.Redeem, lr.Accrue)
			}
			continue
		}
		eligible += lr.Amount
		// Points never take a line below ceil(min_line_price × quantity)
		// when it had room; a line without room takes none.
		minimum := ceilRat(new(big.Rat).Mul(big.NewRat(r.MinLinePrice, 1), rat(lines[i].Quantity, 1000)))
		if lr.Redeem > 0 && lr.ToPay < minimum {
			bad("line %d: to_pay %d below its minimum %d", i+1, lr.ToPay, minimum)
		}
		if r.WholePoints && lr.Accrue%100 != 0 {
			bad("line %d: accrue %d is not whole points", i+1, lr.Accrue)
		}
	}
	if amount != got.Total || eligible != got.Eligible || red != got.Redeem || toPay != got.ToPay || accrue != got.Accrue {
		bad("line sums (total %d, eligible %d, redeem %d, to_pay %d, accrue %d) ≠ receipt %+v",
			amount, eligible, red, toPay, accrue, *got)
	}
	if got.Redeem > got.MaxRedeem || got.MaxRedeem < 0 || got.MaxRedeem > max(0, available) {
		bad("redeem %d, max_redeem %d, available %d", got.Redeem, got.MaxRedeem, available)
	}
	want, limited := specCompute(lines, r, available, redeem)
	switch {
	case limited:
		bad("the contract refuses redeem %d above max %d, Compute priced it", redeem, want.MaxRedeem)
	case !cmp.Equal(want, got):
		bad("Compute mismatch with the contract (-want +got):\n%s", cmp.Diff(want, got))
	}
	return out
}

// refundStep is one refund of several lines: quantities by line.
type refundStep map[int]int64

// refundFunc is calc.Refund's shape, so a broken one can stand in.
type refundFunc func(l calc.LineResult, quantity, before, now int64, whole bool) calc.RefundLine

// refundProblems refunds a receipt in the given steps and checks that
// every step's figures are non-negative and match the contract's shares,
// and that the steps together are one full refund of every line.
func refundProblems(refund refundFunc, lines []calc.Line, rc *calc.Receipt, whole bool, steps []refundStep) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	done := make([]int64, len(lines))
	sums := make([]calc.RefundLine, len(lines))
	for n, st := range steps {
		for i, q := range st {
			l, lr := lines[i], rc.Lines[i]
			d := refund(lr, l.Quantity, done[i], q, whole)
			if d.Returned < 0 || d.Revoked < 0 || d.Amount < 0 || d.Total < 0 {
				bad("step %d line %d: negative refund %+v", n+1, i+1, d)
			}
			after := done[i] + q
			want := calc.RefundLine{
				Returned: specShare(lr.Redeem, after, l.Quantity, false) - specShare(lr.Redeem, done[i], l.Quantity, false),
				Revoked:  specShare(lr.Accrue, after, l.Quantity, whole) - specShare(lr.Accrue, done[i], l.Quantity, whole),
				Amount:   specShare(lr.ToPay, after, l.Quantity, false) - specShare(lr.ToPay, done[i], l.Quantity, false),
				Total:    specShare(lr.Amount, after, l.Quantity, false) - specShare(lr.Amount, done[i], l.Quantity, false),
			}
			if d != want {
				bad("step %d line %d (%d of %d after %d): refund %+v, the contract says %+v", n+1, i+1, q, l.Quantity, done[i], d, want)
			}
			done[i] = after
			s := &sums[i]
			s.Returned += d.Returned
			s.Revoked += d.Revoked
			s.Amount += d.Amount
			s.Total += d.Total
		}
	}
	for i, lr := range rc.Lines {
		full := calc.RefundLine{Returned: lr.Redeem, Revoked: lr.Accrue, Amount: lr.ToPay, Total: lr.Amount}
		if done[i] == lines[i].Quantity && sums[i] != full {
			bad("line %d: the refunds sum to %+v, one full refund is %+v", i+1, sums[i], full)
		}
	}
	return out
}
