// Package calc is the receipt arithmetic of API-CORE "The arithmetic":
// line amounts, the redemption limit, the proportional spread of points
// over lines, accrual, and the path-independent shares of refunds. All
// figures are integers in hundredths (quantities in thousandths);
// products are exact (128-bit) and then floored, never binary floating
// point. The package is pure: no clock, no I/O.
package calc

import (
	"cmp"
	"errors"
	"math/bits"
	"slices"
)

// ErrOverflow is returned when a figure does not fit the arithmetic.
var ErrOverflow = errors.New("calc: figure out of range")

// mulDiv returns floor(a·b/c) and (a·b) mod c for non-negative a, b and
// positive c, exactly; ok is false when the quotient overflows int64.
func mulDiv(a, b, c int64) (q, r int64, ok bool) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return 0, 0, false
	}
	uq, ur := bits.Div64(hi, lo, uint64(c))
	if uq > 1<<63-1 {
		return 0, 0, false
	}
	return int64(uq), int64(ur), true
}

// MulFloor returns floor(a·b/c) exactly for non-negative a, b and positive
// c; ok is false when the result does not fit.
func MulFloor(a, b, c int64) (int64, bool) {
	q, _, ok := mulDiv(a, b, c)
	return q, ok
}

// Allocate spreads the integer x over weights in proportion: each part
// gets floor(x·w_i/Σw), and the remainder goes one unit at a time to the
// parts with the largest fractional parts (ties: the earlier part). The
// parts always sum to x. With all weights zero, everything is zero (x
// must then be zero too, or ErrOverflow is returned).
func Allocate(x int64, weights []int64) ([]int64, error) {
	parts := make([]int64, len(weights))
	if x == 0 {
		return parts, nil
	}
	var sum int64
	for _, w := range weights {
		if w < 0 {
			return nil, ErrOverflow
		}
		s, carry := bits.Add64(uint64(sum), uint64(w), 0)
		if carry != 0 || s > 1<<63-1 {
			return nil, ErrOverflow
		}
		sum = int64(s)
	}
	if sum == 0 || x < 0 {
		return nil, ErrOverflow
	}
	rems := make([]int64, len(weights))
	var given int64
	for i, w := range weights {
		q, r, ok := mulDiv(x, w, sum)
		if !ok {
			return nil, ErrOverflow
		}
		parts[i], rems[i] = q, r
		given += q
	}
	// Hand out the remainder by largest fractional part, earlier first.
	// Σ rems = left·sum and each rem < sum, so more than left parts have a
	// positive rem: no part gets more than one extra unit.
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
	for _, i := range order[:x-given] {
		parts[i]++
	}
	return parts, nil
}

// AllocateUnits spreads x in whole units of size unit (x must be a
// multiple of unit): Allocate(x/unit) scaled back.
func AllocateUnits(x, unit int64, weights []int64) ([]int64, error) {
	if unit <= 1 {
		return Allocate(x, weights)
	}
	parts, err := Allocate(x/unit, weights)
	if err != nil {
		return nil, err
	}
	for i := range parts {
		parts[i] *= unit
	}
	return parts, nil
}
