package api

import (
	"net/http"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

type keyJSON struct {
	ID        string     `json:"id"`
	Key       string     `json:"key,omitempty"` // only in the answer that creates it
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	StoreID   *string    `json:"store_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func keyView(k *kopilka.APIKey, plain string) keyJSON {
	v := keyJSON{ID: k.ID, Key: plain, Name: k.Name, Scopes: []string{}, StoreID: optional(k.StoreID),
		CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
	for _, s := range k.Scopes {
		v.Scopes = append(v.Scopes, string(s))
	}
	return v
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type createKeyReq struct {
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	StoreID string   `json:"store_id"`
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in createKeyReq
	if err := decode(body, &in); err != nil {
		return err
	}
	// The stored answer of an idempotent retry is the key's record without
	// its secret: the plain key is shown once and kept nowhere.
	idem, err := h.idempotency(r, "POST /v1/api-keys", body, http.StatusCreated,
		func(v any) any { return keyView(v.(*kopilka.APIKey), "") })
	if err != nil {
		return err
	}
	ki := loyalty.KeyInput{Name: in.Name, StoreID: in.StoreID, Idem: idem}
	for _, s := range in.Scopes {
		ki.Scopes = append(ki.Scopes, kopilka.Scope(s))
	}
	nk, err := h.svc.CreateAPIKey(r.Context(), tenantOf(r), ki)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, keyView(nk.Key, nk.Plain))
}

func (h *Handler) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := h.svc.ListAPIKeys(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	items := make([]keyJSON, 0, len(keys))
	for i := range keys {
		items = append(items, keyView(&keys[i], ""))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RevokeAPIKey(r.Context(), tenantOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
