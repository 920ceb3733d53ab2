package kopilka

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Quantity is an amount of goods in thousandths: 1500 is 1.5 (kg, pieces).
type Quantity int64

// ParseQuantity reads a decimal with at most three decimals exactly.
func ParseQuantity(s string) (Quantity, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(s) > 24 || strings.ContainsAny(s, "eE+-") {
		return 0, fmt.Errorf("%q is not a plain positive decimal", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 3 {
		return 0, fmt.Errorf("%q has more than three decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1_000_000_000 {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	var f int64
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 3-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("%q is not a decimal", s)
		}
	}
	return Quantity(w*1000 + f), nil
}

// String prints the quantity as the shortest exact decimal.
func (q Quantity) String() string {
	w, f := int64(q)/1000, int64(q)%1000
	if f == 0 {
		return strconv.FormatInt(w, 10)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%03d", w, f), "0")
}

// MarshalJSON writes the quantity as a JSON number.
func (q Quantity) MarshalJSON() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalJSON reads a JSON number exactly.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	v, err := ParseQuantity(string(b))
	if err != nil {
		return &json.UnmarshalTypeError{Value: "number " + string(b), Type: reflect.TypeFor[Quantity]()}
	}
	*q = v
	return nil
}

// Purchase states.
const (
	PurchasePending   = "pending"
	PurchaseComplete  = "complete"
	PurchaseCancelled = "cancelled"
)

// Purchase is a receipt (sale, order) with its computed figures.
type Purchase struct {
	ID               string
	TenantID         string
	ExternalID       string
	CustomerID       string
	StoreID          string
	Status           string
	Tier             string
	Total            Amount
	Eligible         Amount
	MaxRedeem        Amount
	MaxRedeemPercent Percent
	Available        Amount // the customer's available points when it was computed
	WholePoints      bool   // priced with round_accrual_to_whole_points; its refunds keep the rule
	Redeem           Amount
	ToPay            Amount
	Accrue           Amount
	Lines            []PurchaseLine
	RedeemOpID       string // the pending or posted redemption, or empty
	AccrueOpID       string // the accrual, or empty
	AccrueLotID      string
	RequestHash      []byte
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// PurchaseLine is one line of a purchase with its figures and how much of
// it was refunded so far.
type PurchaseLine struct {
	SKU      string   `json:"sku"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Quantity Quantity `json:"quantity"`
	Price    Amount   `json:"price"`
	Discount Amount   `json:"discount"`
	Excluded bool     `json:"excluded"`
	Amount   Amount   `json:"amount"`
	Redeem   Amount   `json:"redeem"`
	ToPay    Amount   `json:"to_pay"`
	Accrue   Amount   `json:"accrue"`
	Refunded Quantity `json:"refunded"`
	// Bonus is the part of Accrue that promotions and offers added;
	// Promotions names them.
	Bonus      Amount   `json:"bonus,omitempty"`
	Promotions []string `json:"promotions,omitempty"`
}

// Refund is a full or partial return of a confirmed purchase.
type Refund struct {
	ID             string
	TenantID       string
	PurchaseID     string
	ExternalID     string
	Lines          []RefundLine
	PointsReturned Amount
	PointsRevoked  Amount
	Debt           Amount // of the revoked points, what the balance could not cover
	Amount         Amount
	Total          Amount
	RequestHash    []byte
	CreatedAt      time.Time
}

// RefundLine is the refunded quantity of one purchase line.
type RefundLine struct {
	Line     int      `json:"line"` // from 1
	Quantity Quantity `json:"quantity"`
}
