package api

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// searchCustomers lists the tenant's customers matching the filters of
// the query, newest first, a page at a time. A key without the admin
// scope (a till's) gets the phones masked: it can tell customers apart
// without harvesting numbers by searching tags or names.
func (h *Handler) searchCustomers(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := h.svc.SearchCustomers(r.Context(), tenantOf(r), loyalty.CustomerQuery{Phone: q.Get("phone"),
		Email: q.Get("email"), Card: q.Get("card"), Name: q.Get("name"), Tag: q.Get("tag"), Group: q.Get("group"),
		Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	full := fullPhones(r)
	items := make([]customerJSON, 0, len(page.Items))
	for i := range page.Items {
		v := customerView(&page.Items[i])
		if !full {
			v = v.masked()
		}
		items = append(items, v)
	}
	return writeJSON(w, http.StatusOK, customerPageJSON{Items: items, NextCursor: optional(page.Next)})
}

type customerPageJSON struct {
	Items      []customerJSON `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

type consentJSON struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Kind       string    `json:"kind"`
	Action     string    `json:"action"`
	Source     string    `json:"source"`
	Actor      string    `json:"actor"`
	CreatedAt  time.Time `json:"created_at"`
}

func consentView(c *kopilka.Consent) consentJSON {
	return consentJSON{ID: c.ID, CustomerID: c.CustomerID, Kind: c.Kind, Action: c.Action, Source: c.Source,
		Actor: c.Actor, CreatedAt: c.CreatedAt}
}

type consentReq struct {
	Kind   string `json:"kind"`
	Source string `json:"source"`
}

func (h *Handler) giveConsent(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in consentReq
	if err := decode(body, &in); err != nil {
		return err
	}
	return h.consent(w, r, "POST /v1/customers/{id}/consents", body, in, h.svc.GiveConsent)
}

type withdrawReq struct {
	Source string `json:"source"`
}

func (h *Handler) withdrawConsent(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in withdrawReq
	if len(bytes.TrimSpace(body)) > 0 { // the body is optional
		if err := decode(body, &in); err != nil {
			return err
		}
	}
	return h.consent(w, r, "POST /v1/customers/{id}/consents/{kind}/withdraw", body,
		consentReq{Kind: r.PathValue("kind"), Source: in.Source}, h.svc.WithdrawConsent)
}

type consentFunc func(ctx context.Context, tenantID, customerID string, in loyalty.ConsentInput, idem *loyalty.Idem) (*kopilka.Consent, error)

func (h *Handler) consent(w http.ResponseWriter, r *http.Request, scope string, body []byte, in consentReq, fn consentFunc) error {
	view := func(v any) any { return consentView(v.(*kopilka.Consent)) }
	idem, err := h.idempotency(r, scope, body, http.StatusCreated, view)
	if err != nil {
		return err
	}
	c, err := fn(r.Context(), tenantOf(r), r.PathValue("id"), loyalty.ConsentInput{Kind: in.Kind, Source: in.Source}, idem)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, consentView(c))
}

type consentsJSON struct {
	Items   []consentJSON   `json:"items"`
	InForce map[string]bool `json:"in_force"`
}

func (h *Handler) listConsents(w http.ResponseWriter, r *http.Request) error {
	recs, err := h.svc.Consents(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := consentsJSON{Items: make([]consentJSON, 0, len(recs)), InForce: map[string]bool{
		kopilka.ConsentPersonalData: loyalty.InForce(recs, kopilka.ConsentPersonalData),
		kopilka.ConsentMarketing:    loyalty.InForce(recs, kopilka.ConsentMarketing)}}
	for i := range recs {
		out.Items = append(out.Items, consentView(&recs[i]))
	}
	return writeJSON(w, http.StatusOK, out)
}
