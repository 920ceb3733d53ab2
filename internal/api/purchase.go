package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

type customerRefJSON struct {
	ID    string `json:"id"`
	Card  string `json:"card"`
	Phone string `json:"phone"`
}

type lineReq struct {
	SKU      string           `json:"sku"`
	Name     string           `json:"name"`
	Category string           `json:"category"`
	Quantity kopilka.Quantity `json:"quantity"`
	Price    int64            `json:"price"`
	Discount int64            `json:"discount"`
}

type purchaseReq struct {
	StoreID          string          `json:"store_id"`
	Customer         customerRefJSON `json:"customer"`
	Lines            []lineReq       `json:"lines"`
	Redeem           json.RawMessage `json:"redeem"`
	ExternalID       string          `json:"external_id"`
	Confirm          bool            `json:"confirm"`
	VerificationCode string          `json:"verification_code"`
}

// input turns the request into the use case's input; register says
// whether it registers a purchase. A calculation ignores the purchase-only
// fields (external_id, confirm, verification_code), so that a till may
// send one body to both.
func (q *purchaseReq) input(register bool) (loyalty.PurchaseInput, error) {
	in := loyalty.PurchaseInput{StoreID: q.StoreID, Customer: loyalty.Ref(q.Customer)}
	if register {
		in.ExternalID, in.Confirm, in.VerificationCode = q.ExternalID, q.Confirm, q.VerificationCode
	}
	for _, l := range q.Lines {
		in.Lines = append(in.Lines, loyalty.LineInput{SKU: l.SKU, Name: l.Name, Category: l.Category,
			Quantity: l.Quantity, Price: l.Price, Discount: l.Discount})
	}
	r := bytes.TrimSpace(q.Redeem)
	switch {
	case len(r) == 0 || string(r) == "null":
	case string(r) == `"max"`:
		in.Redeem = loyalty.RedeemMax
	default:
		v, err := strconv.ParseInt(string(r), 10, 64)
		if err != nil || v < 0 || v > kopilka.MaxAmount {
			return in, kopilka.Invalid("redeem", "redeem is an integer number of hundredths of a point, or \"max\"")
		}
		in.Redeem = v
	}
	return in, nil
}

type lineJSON struct {
	Line     int              `json:"line"`
	SKU      string           `json:"sku"`
	Quantity kopilka.Quantity `json:"quantity"`
	Excluded bool             `json:"excluded"`
	Amount   int64            `json:"amount"`
	Redeem   int64            `json:"redeem"`
	ToPay    int64            `json:"to_pay"`
	Accrue   int64            `json:"accrue"`
	Refunded kopilka.Quantity `json:"refunded"`
	// Bonus is the part of accrue that promotions and offers added, and
	// Promotions names them (empty when none applied).
	Bonus      int64    `json:"bonus"`
	Promotions []string `json:"promotions"`
}

type customerTierJSON struct {
	ID   string `json:"id"`
	Tier string `json:"tier"`
}

type calculationJSON struct {
	Customer         customerTierJSON `json:"customer"`
	Available        int64            `json:"available"`
	Total            int64            `json:"total"`
	Eligible         int64            `json:"eligible"`
	MaxRedeem        int64            `json:"max_redeem"`
	MaxRedeemPercent kopilka.Percent  `json:"max_redeem_percent"`
	Redeem           int64            `json:"redeem"`
	ToPay            int64            `json:"to_pay"`
	Accrue           int64            `json:"accrue"`
	Lines            []lineJSON       `json:"lines"`
}

type purchaseJSON struct {
	ID         string    `json:"id"`
	ExternalID string    `json:"external_id"`
	Status     string    `json:"status"`
	StoreID    *string   `json:"store_id"`
	CreatedAt  time.Time `json:"created_at"`
	calculationJSON
}

func calculationView(p *kopilka.Purchase) calculationJSON {
	v := calculationJSON{Customer: customerTierJSON{ID: p.CustomerID, Tier: p.Tier}, Available: p.Available,
		Total: p.Total, Eligible: p.Eligible, MaxRedeem: p.MaxRedeem, MaxRedeemPercent: p.MaxRedeemPercent,
		Redeem: p.Redeem, ToPay: p.ToPay, Accrue: p.Accrue, Lines: make([]lineJSON, len(p.Lines))}
	for i, l := range p.Lines {
		v.Lines[i] = lineJSON{Line: i + 1, SKU: l.SKU, Quantity: l.Quantity, Excluded: l.Excluded, Amount: l.Amount,
			Redeem: l.Redeem, ToPay: l.ToPay, Accrue: l.Accrue, Refunded: l.Refunded, Bonus: l.Bonus, Promotions: l.Promotions}
		if v.Lines[i].Promotions == nil {
			v.Lines[i].Promotions = []string{}
		}
	}
	return v
}

func purchaseView(v any) any {
	p := v.(*kopilka.Purchase)
	return purchaseJSON{ID: p.ID, ExternalID: p.ExternalID, Status: p.Status, StoreID: optional(p.StoreID),
		CreatedAt: p.CreatedAt, calculationJSON: calculationView(p)}
}

func (h *Handler) calculatePurchase(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var q purchaseReq
	if err := decode(body, &q); err != nil {
		return err
	}
	in, err := q.input(false)
	if err != nil {
		return err
	}
	p, err := h.svc.Calculate(r.Context(), tenantOf(r), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, calculationView(p))
}

func (h *Handler) createPurchase(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var q purchaseReq
	if err := decode(body, &q); err != nil {
		return err
	}
	in, err := q.input(true)
	if err != nil {
		return err
	}
	idem, err := h.idempotency(r, "POST /v1/purchases", body, http.StatusCreated, purchaseView)
	if err != nil {
		return err
	}
	p, err := h.svc.CreatePurchase(r.Context(), tenantOf(r), in, idem)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, purchaseView(p))
}

func (h *Handler) getPurchase(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.GetPurchase(r.Context(), tenantOf(r), r.PathValue("id"), "")
	if err != nil {
		return err
	}
	return h.writePurchase(w, r, p)
}

func (h *Handler) findPurchase(w http.ResponseWriter, r *http.Request) error {
	ext := r.URL.Query().Get("external_id")
	if ext == "" {
		return kopilka.Invalid("external_id", "find a purchase with ?external_id=")
	}
	p, err := h.svc.GetPurchase(r.Context(), tenantOf(r), "", ext)
	if err != nil {
		return err
	}
	return h.writePurchase(w, r, p)
}

func (h *Handler) writePurchase(w http.ResponseWriter, r *http.Request, p *kopilka.Purchase) error {
	if bound := kopilka.ActorFrom(r.Context()).StoreID; bound != "" && bound != p.StoreID {
		return kopilka.Errorf(kopilka.CodeForbidden, "this key is bound to another store")
	}
	return writeJSON(w, http.StatusOK, purchaseView(p))
}

func confirmStep(h *Handler, r *http.Request, idem *loyalty.Idem) (*kopilka.Purchase, error) {
	return h.svc.ConfirmPurchase(r.Context(), tenantOf(r), r.PathValue("id"), idem)
}

func cancelStep(h *Handler, r *http.Request, idem *loyalty.Idem) (*kopilka.Purchase, error) {
	return h.svc.CancelPurchase(r.Context(), tenantOf(r), r.PathValue("id"), idem)
}

type refundReq struct {
	ExternalID string               `json:"external_id"`
	Lines      []kopilka.RefundLine `json:"lines"`
}

type refundJSON struct {
	ID             string               `json:"id"`
	PurchaseID     string               `json:"purchase_id"`
	ExternalID     string               `json:"external_id"`
	Lines          []kopilka.RefundLine `json:"lines"`
	PointsReturned int64                `json:"points_returned"`
	PointsRevoked  int64                `json:"points_revoked"`
	Debt           int64                `json:"debt"`
	Amount         int64                `json:"amount"`
	Total          int64                `json:"total"`
	CreatedAt      time.Time            `json:"created_at"`
}

func refundView(v any) any {
	rf := v.(*kopilka.Refund)
	return refundJSON{ID: rf.ID, PurchaseID: rf.PurchaseID, ExternalID: rf.ExternalID, Lines: rf.Lines,
		PointsReturned: rf.PointsReturned, PointsRevoked: rf.PointsRevoked, Debt: rf.Debt, Amount: rf.Amount,
		Total: rf.Total, CreatedAt: rf.CreatedAt}
}

func (h *Handler) createRefund(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var q refundReq
	if len(bytes.TrimSpace(body)) == 0 {
		return kopilka.Invalid("external_id", "a refund needs a body with its external_id")
	}
	if err := decode(body, &q); err != nil {
		return err
	}
	idem, err := h.idempotency(r, "POST /v1/purchases/{id}/refunds", body, http.StatusCreated, refundView)
	if err != nil {
		return err
	}
	rf, err := h.svc.RefundPurchase(r.Context(), tenantOf(r), r.PathValue("id"),
		loyalty.RefundInput{ExternalID: q.ExternalID, Lines: q.Lines}, idem)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, refundView(rf))
}
