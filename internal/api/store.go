package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

type storeJSON struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Address   string          `json:"address"`
	Phone     string          `json:"phone"`
	Hours     json.RawMessage `json:"hours"`
	CreatedAt time.Time       `json:"created_at"`
}

func storeView(s *kopilka.Store) storeJSON {
	hours := json.RawMessage(s.Hours)
	if len(hours) == 0 {
		hours = json.RawMessage("null")
	}
	return storeJSON{ID: s.ID, Name: s.Name, Address: s.Address, Phone: s.Phone, Hours: hours, CreatedAt: s.CreatedAt}
}

type createStoreReq struct {
	Name    string          `json:"name"`
	Address string          `json:"address"`
	Phone   string          `json:"phone"`
	Hours   json.RawMessage `json:"hours"`
}

func (h *Handler) createStore(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in createStoreReq
	if err := decode(body, &in); err != nil {
		return err
	}
	idem, err := h.idempotency(r, "POST /v1/stores", body, http.StatusCreated, func(v any) any { return storeView(v.(*kopilka.Store)) })
	if err != nil {
		return err
	}
	s, err := h.svc.CreateStore(r.Context(), tenantOf(r), loyalty.StoreInput{Name: in.Name, Address: in.Address, Phone: in.Phone, Hours: in.Hours, Idem: idem})
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, storeView(s))
}

func (h *Handler) listStores(w http.ResponseWriter, r *http.Request) error {
	stores, err := h.svc.ListStores(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	items := make([]storeJSON, 0, len(stores))
	for i := range stores {
		items = append(items, storeView(&stores[i]))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) getStore(w http.ResponseWriter, r *http.Request) error {
	s, err := h.svc.GetStore(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if bound := kopilka.ActorFrom(r.Context()).StoreID; bound != "" && bound != s.ID {
		return kopilka.Errorf(kopilka.CodeForbidden, "this key is bound to another store")
	}
	return writeJSON(w, http.StatusOK, storeView(s))
}
