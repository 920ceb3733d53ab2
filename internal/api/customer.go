package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

type cardJSON struct {
	Number string `json:"number"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
}

type customerJSON struct {
	ID               string     `json:"id"`
	Kind             string     `json:"kind"`
	Phone            *string    `json:"phone"`
	PhoneMasked      *string    `json:"phone_masked"`
	ExtraPhone       *string    `json:"extra_phone"`
	ExtraPhoneMasked *string    `json:"extra_phone_masked"`
	Email            *string    `json:"email"`
	FirstName        string     `json:"first_name"`
	LastName         string     `json:"last_name"`
	MiddleName       string     `json:"middle_name"`
	BirthDate        *string    `json:"birth_date"`
	Gender           *string    `json:"gender"`
	AdConsent        bool       `json:"ad_consent"`
	AdConsentAt      *time.Time `json:"ad_consent_at"`
	Group            *string    `json:"group"`
	Tags             []string   `json:"tags"`
	Cards            []cardJSON `json:"cards"`
	PurchasesTotal   int64      `json:"purchases_total"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

func customerView(c *kopilka.Customer) customerJSON {
	v := customerJSON{ID: c.ID, Kind: string(c.Kind), Phone: optional(c.Phone), PhoneMasked: optional(kopilka.MaskPhone(c.Phone)),
		ExtraPhone: optional(c.ExtraPhone), ExtraPhoneMasked: optional(kopilka.MaskPhone(c.ExtraPhone)),
		Email: optional(c.Email), FirstName: c.FirstName, LastName: c.LastName, MiddleName: c.MiddleName,
		BirthDate: optional(c.BirthDate), Gender: optional(c.Gender), AdConsent: c.AdConsent, AdConsentAt: c.AdConsentAt,
		Group: optional(c.Group), Tags: c.Tags, Cards: []cardJSON{}, PurchasesTotal: c.PurchasesTotal,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	for _, k := range c.Cards {
		v.Cards = append(v.Cards, cardJSON{Number: k.Number, Kind: k.Kind, Status: k.Status})
	}
	return v
}

// fullPhones tells whether the caller sees full phone numbers in lists and
// histories: admin keys do; a till's key (pos only) gets them masked, so
// that it cannot collect numbers by searching tags or names.
func fullPhones(r *http.Request) bool {
	return kopilka.ActorFrom(r.Context()).HasScope(kopilka.ScopeAdmin)
}

// masked is the view for a caller who need not see full numbers: phone
// and extra_phone carry their masked forms too.
func (v customerJSON) masked() customerJSON {
	v.Phone, v.ExtraPhone = v.PhoneMasked, v.ExtraPhoneMasked
	return v
}

type createCustomerReq struct {
	Phone      string   `json:"phone"`
	ExtraPhone string   `json:"extra_phone"`
	Email      string   `json:"email"`
	FirstName  string   `json:"first_name"`
	LastName   string   `json:"last_name"`
	MiddleName string   `json:"middle_name"`
	BirthDate  string   `json:"birth_date"`
	Gender     string   `json:"gender"`
	AdConsent  bool     `json:"ad_consent"`
	Kind       string   `json:"kind"`
	Card       string   `json:"card"`
	Group      string   `json:"group"`
	Tags       []string `json:"tags"`
}

func (h *Handler) createCustomer(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in createCustomerReq
	if err := decode(body, &in); err != nil {
		return err
	}
	view := func(v any) any { return customerView(v.(*kopilka.Customer)) }
	idem, err := h.idempotency(r, "POST /v1/customers", body, http.StatusCreated, view)
	if err != nil {
		return err
	}
	c, err := h.svc.CreateCustomer(r.Context(), tenantOf(r), loyalty.CustomerInput{Card: in.Card, Customer: kopilka.Customer{
		Kind: kopilka.CustomerKind(in.Kind), Phone: in.Phone, ExtraPhone: in.ExtraPhone, Email: in.Email,
		FirstName: in.FirstName, LastName: in.LastName, MiddleName: in.MiddleName, BirthDate: in.BirthDate,
		Gender: in.Gender, AdConsent: in.AdConsent, Group: in.Group, Tags: in.Tags,
	}}, idem)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusCreated, view(c))
}

// findCustomer identifies one customer by ?phone=, ?card= or ?id=.
func (h *Handler) findCustomer(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ref := loyalty.Ref{ID: q.Get("id"), Card: q.Get("card"), Phone: q.Get("phone")}
	if ref == (loyalty.Ref{}) {
		return kopilka.Invalid("phone", "identify the customer with ?phone=, ?card= or ?id=")
	}
	c, b, err := h.svc.FindCustomer(r.Context(), tenantOf(r), ref)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, identifiedView(c, b))
}

func (h *Handler) getCustomer(w http.ResponseWriter, r *http.Request) error {
	c, b, err := h.svc.GetCustomer(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, identifiedView(c, b))
}

// identifiedJSON is a customer as identification answers it: the profile
// with what a till asks next, the points and the tier (the balance as GET
// …/balance gives it, and its main figures at the top).
type identifiedJSON struct {
	customerJSON
	Tier      string      `json:"tier"`
	Available int64       `json:"available"`
	Pending   int64       `json:"pending"`
	Balance   balanceJSON `json:"balance"`
}

func identifiedView(c *kopilka.Customer, b *kopilka.Balance) identifiedJSON {
	return identifiedJSON{customerJSON: customerView(c), Tier: b.Tier, Available: b.Available, Pending: b.Pending,
		Balance: balanceView(b)}
}

type patchCustomerReq struct {
	Phone      *string   `json:"phone"`
	ExtraPhone *string   `json:"extra_phone"`
	Email      *string   `json:"email"`
	FirstName  *string   `json:"first_name"`
	LastName   *string   `json:"last_name"`
	MiddleName *string   `json:"middle_name"`
	BirthDate  *string   `json:"birth_date"`
	Gender     *string   `json:"gender"`
	AdConsent  *bool     `json:"ad_consent"`
	Group      *string   `json:"group"`
	Tags       *[]string `json:"tags"`
}

func (h *Handler) updateCustomer(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in patchCustomerReq
	if err := decode(body, &in); err != nil {
		return err
	}
	c, err := h.svc.UpdateCustomer(r.Context(), tenantOf(r), r.PathValue("id"), kopilka.CustomerPatch{
		Phone: in.Phone, ExtraPhone: in.ExtraPhone, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
		MiddleName: in.MiddleName, BirthDate: in.BirthDate, Gender: in.Gender, AdConsent: in.AdConsent,
		Group: in.Group, Tags: in.Tags,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, customerView(c))
}

type changeJSON struct {
	ID        int64     `json:"id"`
	Field     string    `json:"field"`
	OldValue  string    `json:"old_value"`
	NewValue  string    `json:"new_value"`
	Actor     string    `json:"actor"`
	ChangedAt time.Time `json:"changed_at"`
}

func (h *Handler) customerHistory(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var before int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
			return kopilka.Invalid("cursor", "not a cursor this API gave out")
		}
	}
	ch, err := h.svc.CustomerHistory(r.Context(), tenantOf(r), r.PathValue("id"), before, limit+1)
	if err != nil {
		return err
	}
	var next *string
	if len(ch) > limit {
		ch = ch[:limit]
		next = optional(strconv.FormatInt(ch[limit-1].ID, 10))
	}
	// A till sees that a phone changed, not the old numbers.
	full := fullPhones(r)
	items := make([]changeJSON, 0, len(ch))
	for _, c := range ch {
		old, new := c.OldValue, c.NewValue
		if !full && (c.Field == "phone" || c.Field == "extra_phone") {
			old, new = kopilka.MaskPhone(old), kopilka.MaskPhone(new)
		}
		items = append(items, changeJSON{ID: c.ID, Field: c.Field, OldValue: old, NewValue: new, Actor: c.Actor, ChangedAt: c.ChangedAt})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func pageLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		return 0, kopilka.Invalid("limit", "limit must be an integer from 1 to 200")
	}
	return n, nil
}

type mergeCustomerReq struct {
	From string `json:"from"`
}

// mergeCustomer merges the customer named by "from" into the one in the
// path and answers with the survivor.
func (h *Handler) mergeCustomer(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in mergeCustomerReq
	if err := decode(body, &in); err != nil {
		return err
	}
	view := func(v any) any { return customerView(v.(*kopilka.Customer)) }
	idem, err := h.idempotency(r, "POST /v1/customers/{id}/merge", body, http.StatusOK, view)
	if err != nil {
		return err
	}
	c, err := h.svc.MergeCustomers(r.Context(), tenantOf(r), r.PathValue("id"), in.From, idem)
	if err != nil {
		return respond(w, 0, nil, err)
	}
	return writeJSON(w, http.StatusOK, view(c))
}

// deleteCustomer deletes a customer on request: 204, again 204.
func (h *Handler) deleteCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteCustomer(r.Context(), tenantOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
