package calc_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/calc"
)

// TestAllocate checks API-CORE's one allocation rule: floor(X·w_i/Σw) to
// each part, then the remainder one unit at a time to the largest
// fractional parts, ties to the earlier part. The expected figures are
// worked out by hand in each row's comment.
func TestAllocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		x       int64
		weights []int64
		want    []int64
	}{
		// 10/3 = 3.33 each: floors 3+3+3 = 9, one left, all fractions
		// equal (1/3): the earliest part takes it.
		{"EqualWeightsTieToEarlier", 10, []int64{1, 1, 1}, []int64{4, 3, 3}},
		// 100·{1,2,3,4}/10 = 10, 20, 30, 40 exactly: no remainder.
		{"Exact", 100, []int64{1, 2, 3, 4}, []int64{10, 20, 30, 40}},
		// 7·{2,3,5}/10 = 1.4, 2.1, 3.5: floors 1+2+3 = 6, one left to the
		// largest fraction .5 (the third part).
		{"LargestFraction", 7, []int64{2, 3, 5}, []int64{1, 2, 4}},
		// 5/6 = .833 each: floors all 0, five left, all fractions equal:
		// the first five parts.
		{"AllRemainder", 5, []int64{1, 1, 1, 1, 1, 1}, []int64{1, 1, 1, 1, 1, 0}},
		// 1·{0,5,5}/10 = 0, .5, .5: the zero weight gets nothing, the tie
		// goes to the earlier of the two.
		{"ZeroWeightAndTie", 1, []int64{0, 5, 5}, []int64{0, 1, 0}},
		// 2·{1,2,2}/5 = .4, .8, .8: both units go to the .8 parts.
		{"TwoUnitsLargestTwo", 2, []int64{1, 2, 2}, []int64{0, 1, 1}},
		// 11·{5,1,4}/10 = 5.5, 1.1, 4.4: floors 5+1+4 = 10, one left to .5.
		{"FirstLargest", 11, []int64{5, 1, 4}, []int64{6, 1, 4}},
		// 100/3 = 33.33 each: 99 by floors, one left to the first.
		{"Thirds", 100, []int64{3, 3, 3}, []int64{34, 33, 33}},
		// 3·{7,1}/8 = 2.625, .375: floors 2+0, one left to .625.
		{"Uneven", 3, []int64{7, 1}, []int64{3, 0}},
		// 999999999999999·{3,7}/10 = 299999999999999.7 and
		// 699999999999999.3: floors sum to 999999999999998, one left to .7.
		// The products exceed 2^63: they must be exact all the same.
		{"Huge", 999_999_999_999_999, []int64{3, 7}, []int64{300_000_000_000_000, 699_999_999_999_999}},
		// Weights whose sum and products are near the int64 range.
		// 10·{2^62, 2^62-1}/(2^63-1): the first is 5.0000…, the second
		// 4.9999…: floors 5+4, one left to the second (fraction .99…).
		{"HugeWeights", 10, []int64{1 << 62, 1<<62 - 1}, []int64{5, 5}},
		{"Zero", 0, []int64{0, 0}, []int64{0, 0}},
		{"ZeroOverWeights", 0, []int64{3, 4}, []int64{0, 0}},
		{"OnePart", 12345, []int64{7}, []int64{12345}},
		{"NoParts", 0, nil, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := calc.Allocate(tt.x, tt.weights)
			if err != nil {
				t.Fatalf("Allocate(%d, %v) error = %v", tt.x, tt.weights, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Allocate(%d, %v) mismatch (-want +got):\n%s", tt.x, tt.weights, diff)
			}
		})
	}
}

// TestAllocateRefusesWhatCannotBeSpread: a positive X over weights that
// are all zero, a negative X or weight, and weights whose sum overflows
// cannot be spread and must not be spread silently wrong.
func TestAllocateRefusesWhatCannotBeSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		x       int64
		weights []int64
	}{
		{"AllZeroWeights", 10, []int64{0, 0}},
		{"NoWeights", 1, nil},
		{"NegativeX", -1, []int64{1}},
		{"NegativeWeight", 1, []int64{2, -1}},
		{"WeightSumOverflows", 1, []int64{1 << 62, 1 << 62}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := calc.Allocate(tt.x, tt.weights)
			if !errors.Is(err, calc.ErrOverflow) {
				t.Errorf("Allocate(%d, %v) = %v, %v, want ErrOverflow", tt.x, tt.weights, got, err)
			}
		})
	}
}

// TestAllocateUnits spreads in whole units (whole points: 100 hundredths).
func TestAllocateUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		x, unit int64
		weights []int64
		want    []int64
	}{
		// 3 units over {1,1}: 1.5 each, floors 1+1, one left to the first.
		{"TieToEarlier", 300, 100, []int64{1, 1}, []int64{200, 100}},
		// 5 units over {13973, 4309, 0, 1020} (Σ 19302): 3.6196, 1.1162,
		// 0, 0.2642: floors 3+1 = 4, one left to .6196.
		{"ReceiptBases", 500, 100, []int64{13973, 4309, 0, 1020}, []int64{400, 100, 0, 0}},
		// A unit of 1 is the plain rule.
		{"UnitOne", 7, 1, []int64{2, 3, 5}, []int64{1, 2, 4}},
		{"Zero", 0, 100, []int64{0, 0}, []int64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := calc.AllocateUnits(tt.x, tt.unit, tt.weights)
			if err != nil {
				t.Fatalf("AllocateUnits(%d, %d, %v) error = %v", tt.x, tt.unit, tt.weights, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AllocateUnits(%d, %d, %v) mismatch (-want +got):\n%s", tt.x, tt.unit, tt.weights, diff)
			}
		})
	}
}
