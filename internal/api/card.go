package api

import (
	"bytes"
	"net/http"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

type rangeReq struct {
	Name       string `json:"name"`
	Prefix     string `json:"prefix"`
	Start      *int64 `json:"start"`
	End        *int64 `json:"end"`
	Width      int    `json:"width"`
	CheckDigit string `json:"check_digit"`
	Kind       string `json:"kind"`
}

type rangeJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Prefix      string    `json:"prefix"`
	Start       int64     `json:"start"`
	End         int64     `json:"end"`
	Width       int       `json:"width"`
	CheckDigit  string    `json:"check_digit"`
	Kind        *string   `json:"kind"`
	FirstNumber string    `json:"first_number"`
	LastNumber  string    `json:"last_number"`
	NextNumber  *string   `json:"next_number"`
	Issued      int64     `json:"issued"`
	Left        int64     `json:"left"`
	CreatedAt   time.Time `json:"created_at"`
}

func rangeView(r *loyalty.RangeInfo) rangeJSON {
	first, last := r.Span()
	v := rangeJSON{ID: r.ID, Name: r.Name, Prefix: r.Prefix, Start: r.Start, End: r.End, Width: r.Width,
		CheckDigit: string(r.CheckDigit), Kind: optional(r.Kind), FirstNumber: first, LastNumber: last,
		Issued: r.Issued, Left: r.Left, CreatedAt: r.CreatedAt}
	if !r.Exhausted() {
		v.NextNumber = optional(r.Number(r.Next))
	}
	return v
}

func (h *Handler) createCardRange(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in rangeReq
	if err := decode(body, &in); err != nil {
		return err
	}
	view := func(v any) any { return rangeView(v.(*loyalty.RangeInfo)) }
	idem, err := h.idempotency(r, "POST /v1/card-ranges", body, http.StatusCreated, view)
	if err != nil {
		return err
	}
	rng, err := h.svc.CreateCardRange(r.Context(), tenantOf(r), loyalty.RangeInput{Name: in.Name, Prefix: in.Prefix,
		Start: in.Start, End: in.End, Width: in.Width, CheckDigit: kopilka.CheckDigit(in.CheckDigit), Kind: in.Kind, Idem: idem})
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, view(rng))
}

func (h *Handler) listCardRanges(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.ListCardRanges(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	items := make([]rangeJSON, 0, len(list))
	for i := range list {
		items = append(items, rangeView(&list[i]))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

type cardDetailJSON struct {
	Number     string    `json:"number"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"`
	CustomerID string    `json:"customer_id"`
	RangeID    *string   `json:"range_id"`
	ReplacedBy *string   `json:"replaced_by"`
	CreatedAt  time.Time `json:"created_at"`
}

func cardView(v any) any {
	k := v.(*kopilka.Card)
	return cardDetailJSON{Number: k.Number, Kind: k.Kind, Status: k.Status, CustomerID: k.CustomerID,
		RangeID: optional(k.RangeID), ReplacedBy: optional(k.ReplacedBy), CreatedAt: k.CreatedAt}
}

type issueCardReq struct {
	Kind    string `json:"kind"`
	Number  string `json:"number"`
	RangeID string `json:"range_id"`
}

func (h *Handler) issueCard(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in issueCardReq
	if err := decode(body, &in); err != nil {
		return err
	}
	idem, err := h.idempotency(r, "POST /v1/customers/{id}/cards", body, http.StatusCreated, cardView)
	if err != nil {
		return err
	}
	k, err := h.svc.IssueCard(r.Context(), tenantOf(r), r.PathValue("id"),
		loyalty.CardInput{Kind: in.Kind, Number: in.Number, RangeID: in.RangeID, Idem: idem})
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, cardView(k))
}

// cardViewJSON is a card as GET /v1/cards/{number} shows it: the card
// with its holder's name, balance, expiring points, purchases total and
// tier (PRODUCT.md's card view). The holder's fields are empty and the
// figures zero when the holder was deleted on request.
type cardViewJSON struct {
	cardDetailJSON
	HolderDeleted    bool           `json:"holder_deleted"`
	HolderFirstName  string         `json:"holder_first_name"`
	HolderLastName   string         `json:"holder_last_name"`
	HolderMiddleName string         `json:"holder_middle_name"`
	Tier             string         `json:"tier"`
	Available        int64          `json:"available"`
	Pending          int64          `json:"pending"`
	Expiring         []expiringJSON `json:"expiring"`
	PurchasesTotal   int64          `json:"purchases_total"`
}

func (h *Handler) getCard(w http.ResponseWriter, r *http.Request) error {
	v, err := h.svc.ViewCard(r.Context(), tenantOf(r), r.PathValue("number"))
	if err != nil {
		return err
	}
	out := cardViewJSON{cardDetailJSON: cardView(v.Card).(cardDetailJSON), HolderDeleted: v.Holder == nil, Expiring: []expiringJSON{}}
	if v.Holder != nil {
		b := balanceView(v.Balance)
		out.HolderFirstName, out.HolderLastName, out.HolderMiddleName = v.Holder.FirstName, v.Holder.LastName, v.Holder.MiddleName
		out.Tier, out.Available, out.Pending, out.Expiring, out.PurchasesTotal = b.Tier, b.Available, b.Pending, b.Expiring, b.PurchasesTotal
	}
	return writeJSON(w, http.StatusOK, out)
}

func blockStep(h *Handler, r *http.Request, idem *loyalty.Idem) (*kopilka.Card, error) {
	return h.svc.BlockCard(r.Context(), tenantOf(r), r.PathValue("number"), idem)
}

func unblockStep(h *Handler, r *http.Request, idem *loyalty.Idem) (*kopilka.Card, error) {
	return h.svc.UnblockCard(r.Context(), tenantOf(r), r.PathValue("number"), idem)
}

type replaceCardReq struct {
	Number  string `json:"number"`
	RangeID string `json:"range_id"`
}

func (h *Handler) replaceCard(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in replaceCardReq
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decode(body, &in); err != nil {
			return err
		}
	}
	idem, err := h.idempotency(r, "POST /v1/cards/{number}/replace", body, http.StatusCreated, cardView)
	if err != nil {
		return err
	}
	k, err := h.svc.ReplaceCard(r.Context(), tenantOf(r), r.PathValue("number"),
		loyalty.ReplaceInput{Number: in.Number, RangeID: in.RangeID, Idem: idem})
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, cardView(k))
}
