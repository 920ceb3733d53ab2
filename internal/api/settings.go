package api

import (
	"net/http"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func (h *Handler) getSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := h.svc.Settings(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (h *Handler) putSettings(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in kopilka.TenantSettings
	if err := decode(body, &in); err != nil {
		return err
	}
	s, err := h.svc.SetSettings(r.Context(), tenantOf(r), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}
