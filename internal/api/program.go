package api

import (
	"net/http"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func (h *Handler) getProgram(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.Program(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (h *Handler) putProgram(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var p kopilka.Program
	if err := decode(body, &p); err != nil {
		return err
	}
	if err := h.svc.SetProgram(r.Context(), tenantOf(r), &p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, &p)
}
