package api

import (
	"net/http"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
)

type promotionReq struct {
	Name         string          `json:"name"`
	StartsAt     time.Time       `json:"starts_at"`
	EndsAt       *time.Time      `json:"ends_at"`
	SKUs         []string        `json:"skus"`
	Categories   []string        `json:"categories"`
	StoreIDs     []string        `json:"store_ids"`
	Tags         []string        `json:"tags"`
	Groups       []string        `json:"groups"`
	Multiplier   kopilka.Percent `json:"multiplier"`
	ExtraPercent kopilka.Percent `json:"extra_percent"`
}

// createRule serves POST /v1/promotions and POST /v1/offers.
func (h *Handler) createRule(kind string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		var in promotionReq
		if err := decode(body, &in); err != nil {
			return err
		}
		p := &kopilka.Promotion{Kind: kind, Name: in.Name, StartsAt: in.StartsAt.UTC(), EndsAt: in.EndsAt,
			SKUs: in.SKUs, Categories: in.Categories, StoreIDs: in.StoreIDs, Tags: in.Tags, Groups: in.Groups,
			Multiplier: in.Multiplier, ExtraPercent: in.ExtraPercent}
		if p.EndsAt != nil {
			e := p.EndsAt.UTC()
			p.EndsAt = &e
		}
		idem, err := h.idempotency(r, "POST /v1/"+kind+"s", body, http.StatusCreated, func(v any) any { return v })
		if err != nil {
			return err
		}
		if err := h.svc.CreatePromotion(r.Context(), tenantOf(r), p, idem); err != nil {
			return respond(w, 0, nil, err)
		}
		return writeJSON(w, http.StatusCreated, p)
	}
}

func (h *Handler) listRules(kind string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		rules, err := h.svc.Promotions(r.Context(), tenantOf(r), kind)
		if err != nil {
			return err
		}
		if rules == nil {
			rules = []kopilka.Promotion{}
		}
		return writeJSON(w, http.StatusOK, map[string]any{"items": rules})
	}
}

func (h *Handler) getRule(kind string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.svc.GetPromotion(r.Context(), tenantOf(r), kind, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, p)
	}
}

func (h *Handler) deleteRule(kind string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.DeletePromotion(r.Context(), tenantOf(r), kind, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
