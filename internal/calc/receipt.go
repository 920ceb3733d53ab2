package calc

import "fmt"

// Line is one receipt line as the arithmetic sees it.
type Line struct {
	Quantity int64 // thousandths: 1500 is 1.5
	Price    int64 // hundredths per unit
	Discount int64 // hundredths off the line, applied before points
	Excluded bool  // neither earns nor takes points
}

// Rules are the programme figures one receipt is computed with.
type Rules struct {
	AccrualPercent   int64 // ten-thousandths of a percent (kopilka.Percent)
	MaxRedeemPercent int64
	MinLinePrice     int64 // hundredths per unit
	AccrueOnTotal    bool  // accrue_on: total (else paid)
	WholePoints      bool  // round_accrual_to_whole_points
	// ExtraAccrual, when set, adds accrual to an eligible line on top of
	// the tier's (promotions, offers). It gets the line's index, its base
	// (to_pay or amount, as accrue_on says) and its tier accrual, and
	// returns the extra; with whole points the extra is floored to 100.
	ExtraAccrual func(line int, base, accrued int64) int64
}

// percentScale is 100% in kopilka.Percent units.
const percentScale = 100 * 10000

// LineResult is one line of a computed receipt.
type LineResult struct {
	Amount int64 // round_half_up(price × quantity) − discount
	Room   int64 // what points may take from it
	Redeem int64
	ToPay  int64
	Accrue int64
	Bonus  int64 // the part of Accrue that ExtraAccrual added
}

// Receipt is a computed receipt.
type Receipt struct {
	Total     int64
	Eligible  int64
	MaxRedeem int64
	Redeem    int64
	ToPay     int64
	Accrue    int64
	Lines     []LineResult
}

// LimitError says a requested redemption is above the maximum.
type LimitError struct{ Requested, Max int64 }

func (e *LimitError) Error() string {
	return fmt.Sprintf("redemption of %d is above the maximum of %d", e.Requested, e.Max)
}

// LineError says a line's figures do not make sense.
type LineError struct {
	Line   int // from 1
	Field  string
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s %s", e.Line, e.Field, e.Reason) }

// RedeemMax asks Compute for the largest redemption allowed.
const RedeemMax = -1

// Compute prices a receipt: redeem is the points asked (hundredths), or
// RedeemMax; available is the customer's spendable balance (≤ 0 allows no
// redemption). It returns *LimitError when redeem is above the maximum and
// *LineError for a line that cannot be priced.
func Compute(lines []Line, r Rules, available, redeem int64) (*Receipt, error) {
	rc := &Receipt{Lines: make([]LineResult, len(lines))}
	rooms := make([]int64, len(lines))
	var roomSum int64
	for i, l := range lines {
		amount, room, err := lineFigures(i+1, l, r.MinLinePrice)
		if err != nil {
			return nil, err
		}
		lr := &rc.Lines[i]
		lr.Amount = amount
		rc.Total += amount
		if !l.Excluded {
			rc.Eligible += amount
			lr.Room = room
			rooms[i] = room
			roomSum += room
		}
		if rc.Total > maxFigure || roomSum > maxFigure {
			return nil, ErrOverflow
		}
	}
	byPercent, _, ok := mulDiv(rc.Eligible, r.MaxRedeemPercent, percentScale)
	if !ok {
		return nil, ErrOverflow
	}
	rc.MaxRedeem = max(0, min(available, byPercent, roomSum))
	switch {
	case redeem == RedeemMax:
		rc.Redeem = rc.MaxRedeem
	case redeem < 0:
		return nil, &LimitError{Requested: redeem, Max: rc.MaxRedeem}
	case redeem > rc.MaxRedeem:
		return nil, &LimitError{Requested: redeem, Max: rc.MaxRedeem}
	default:
		rc.Redeem = redeem
	}
	parts, err := Allocate(rc.Redeem, rooms)
	if err != nil {
		return nil, err
	}
	bases := make([]int64, len(lines))
	var base int64
	for i := range rc.Lines {
		lr := &rc.Lines[i]
		lr.Redeem = parts[i]
		lr.ToPay = lr.Amount - lr.Redeem
		rc.ToPay += lr.ToPay
		if lines[i].Excluded {
			continue
		}
		bases[i] = lr.ToPay
		if r.AccrueOnTotal {
			bases[i] = lr.Amount
		}
		base += bases[i]
	}
	accrue, _, ok := mulDiv(base, r.AccrualPercent, percentScale)
	if !ok {
		return nil, ErrOverflow
	}
	unit := int64(1)
	if r.WholePoints {
		unit = 100
		accrue -= accrue % 100
	}
	if parts, err = AllocateUnits(accrue, unit, bases); err != nil {
		return nil, err
	}
	for i := range rc.Lines {
		rc.Lines[i].Accrue = parts[i]
		if r.ExtraAccrual != nil && !lines[i].Excluded {
			extra := r.ExtraAccrual(i, bases[i], parts[i])
			if r.WholePoints {
				extra -= extra % 100
			}
			rc.Lines[i].Bonus = max(0, extra)
			rc.Lines[i].Accrue += rc.Lines[i].Bonus
		}
		rc.Accrue += rc.Lines[i].Accrue
	}
	return rc, nil
}

// maxFigure bounds totals so that every product stays exact: 10^15
// hundredths (10 trillion currency units).
const maxFigure = 1_000_000_000_000_000

// lineFigures computes a line's amount and room.
func lineFigures(n int, l Line, minPrice int64) (amount, room int64, err error) {
	switch {
	case l.Quantity <= 0:
		return 0, 0, &LineError{Line: n, Field: "quantity", Reason: "must be above zero"}
	case l.Price < 0:
		return 0, 0, &LineError{Line: n, Field: "price", Reason: "may not be negative"}
	case l.Discount < 0:
		return 0, 0, &LineError{Line: n, Field: "discount", Reason: "may not be negative"}
	case l.Quantity > maxFigure || l.Price > maxFigure:
		return 0, 0, &LineError{Line: n, Field: "price", Reason: "is out of range"}
	}
	// round_half_up(price × quantity / 1000)
	q, r, ok := mulDiv(l.Price, l.Quantity, 1000)
	if !ok || q > maxFigure {
		return 0, 0, &LineError{Line: n, Field: "price", Reason: "times quantity is out of range"}
	}
	if r*2 >= 1000 {
		q++
	}
	if l.Discount > q {
		return 0, 0, &LineError{Line: n, Field: "discount", Reason: "is larger than the line's price × quantity"}
	}
	amount = q - l.Discount
	// ceil(min_line_price × quantity / 1000)
	mq, mr, ok := mulDiv(minPrice, l.Quantity, 1000)
	if !ok {
		return 0, 0, &LineError{Line: n, Field: "quantity", Reason: "is out of range"}
	}
	if mr > 0 {
		mq++
	}
	return amount, max(0, amount-mq), nil
}

// Share is the cumulative part of a line figure F for Q of q units
// refunded: floor(F·Q/q), exactly F once Q = q. With whole, the share is
// floored to a multiple of 100 (whole points) until Q = q.
func Share(f, refunded, quantity int64, whole bool) int64 {
	if refunded >= quantity {
		return f
	}
	if refunded <= 0 || f <= 0 {
		return 0
	}
	s, _, ok := mulDiv(f, refunded, quantity)
	if !ok {
		return f
	}
	if whole {
		s -= s % 100
	}
	return s
}

// RefundLine is what one refund takes back from one line.
type RefundLine struct {
	Returned int64 // redeemed points given back
	Revoked  int64 // accrued points taken back
	Amount   int64 // money refunded (from to_pay)
	Total    int64 // the line amount refunded (from amount)
}

// Refund returns what refunding the quantity units of a line takes, given
// how many were refunded before (all refunds together). It is
// path-independent: any split of refunds sums to one full refund.
func Refund(l LineResult, quantity, before, now int64, wholePoints bool) RefundLine {
	after := before + now
	d := func(f int64, whole bool) int64 {
		return Share(f, after, quantity, whole) - Share(f, before, quantity, whole)
	}
	return RefundLine{
		Returned: d(l.Redeem, false),
		Revoked:  d(l.Accrue, wholePoints),
		Amount:   d(l.ToPay, false),
		Total:    d(l.Amount, false),
	}
}
