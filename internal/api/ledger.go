package api

import (
	"net/http"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

type expiringJSON struct {
	Amount    int64     `json:"amount"`
	ExpiresAt time.Time `json:"expires_at"`
}

type balanceJSON struct {
	Available      int64          `json:"available"`
	Pending        int64          `json:"pending"`
	Reserved       int64          `json:"reserved"`
	Expiring       []expiringJSON `json:"expiring"`
	PurchasesTotal int64          `json:"purchases_total"`
	Tier           string         `json:"tier"`
}

func (h *Handler) getBalance(w http.ResponseWriter, r *http.Request) error {
	b, err := h.svc.Balance(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, balanceView(b))
}

func balanceView(b *kopilka.Balance) balanceJSON {
	v := balanceJSON{Available: b.Available, Pending: b.Pending, Reserved: b.Reserved, Expiring: []expiringJSON{},
		PurchasesTotal: b.PurchasesTotal, Tier: b.Tier}
	for _, e := range b.Expiring {
		v.Expiring = append(v.Expiring, expiringJSON{Amount: e.Amount, ExpiresAt: e.ExpiresAt})
	}
	return v
}

type operationJSON struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	Amount     int64     `json:"amount"`
	PurchaseID *string   `json:"purchase_id"`
	ExternalID *string   `json:"external_id"`
	Message    string    `json:"message"`
	CreatedAt  time.Time `json:"created_at"`
}

func operationView(op *kopilka.Operation) operationJSON {
	return operationJSON{ID: op.ID, CustomerID: op.CustomerID, Type: string(op.Type), Status: string(op.Status),
		Amount: op.Amount, PurchaseID: optional(op.PurchaseID), ExternalID: optional(op.ExternalID),
		Message: op.Message, CreatedAt: op.CreatedAt}
}

func (h *Handler) listOperations(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	page, err := h.svc.Operations(r.Context(), tenantOf(r), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	items := make([]operationJSON, 0, len(page.Items))
	for i := range page.Items {
		items = append(items, operationView(&page.Items[i]))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": optional(page.Next)})
}

type adjustReq struct {
	Amount     int64  `json:"amount"`
	Reason     string `json:"reason"`
	ExternalID string `json:"external_id"`
}

func (h *Handler) createAdjustment(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in adjustReq
	if err := decode(body, &in); err != nil {
		return err
	}
	view := func(v any) any { return operationView(v.(*kopilka.Operation)) }
	idem, err := h.idempotency(r, "POST /v1/customers/{id}/adjustments", body, http.StatusCreated, view)
	if err != nil {
		return err
	}
	op, err := h.svc.Adjust(r.Context(), tenantOf(r), r.PathValue("id"),
		loyalty.AdjustInput{Amount: in.Amount, Reason: in.Reason, ExternalID: in.ExternalID}, idem)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, view(op))
}
