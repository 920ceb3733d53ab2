package loyalty

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// CustomerQuery is a search of a tenant's customers: the filters given
// must all match (phone, e-mail and name exactly: personal data is kept
// encrypted and found through blind indexes).
type CustomerQuery struct {
	Phone, Email, Card, Name, Tag, Group string
	Cursor                               string // next_cursor of the previous page; "" for the first
	Limit                                int    // 1..200
}

// CustomerPage is a page of a search, newest customers first.
type CustomerPage struct {
	Items []kopilka.Customer
	Next  string // "" on the last page
}

// SearchCustomers pages the tenant's customers that match q.
func (s *Service) SearchCustomers(ctx context.Context, tenantID string, q CustomerQuery) (*CustomerPage, error) {
	f := storage.CustomerSearch{Email: strings.TrimSpace(q.Email), Card: strings.TrimSpace(q.Card),
		Name: strings.TrimSpace(q.Name), Tag: strings.TrimSpace(q.Tag), Group: strings.TrimSpace(q.Group), Limit: q.Limit + 1}
	if q.Phone != "" {
		p, ok := kopilka.NormalizePhone(q.Phone)
		if !ok {
			return nil, kopilka.Invalid("phone", "not a phone number; use +7 912 345-67-89 or 8 912 345-67-89")
		}
		f.Phone = p
	}
	if q.Cursor != "" {
		c, err := decodeCustomerCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		f.After = c
	}
	var items []kopilka.Customer
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		items, err = tx.SearchCustomers(ctx, tenantID, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &CustomerPage{Items: items}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		last := page.Items[q.Limit-1]
		page.Next = encodeCustomerCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// A customer cursor is the creation time (µs) and id of a page's last
// customer, base64url: opaque to clients.
func encodeCustomerCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeCustomerCursor(s string) (*storage.CustomerCursor, error) {
	bad := kopilka.Invalid("cursor", "not a cursor this API gave out")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	at, id, ok := strings.Cut(string(b), ":")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || !kopilka.ValidID("cus", id) {
		return nil, bad
	}
	return &storage.CustomerCursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}

// ConsentSources lists where a consent may be given or withdrawn.
func ConsentSources() []string {
	return []string{"pos", "web", "widget", "api", "import", "operator", "paper", "moysklad"}
}

// ConsentInput is a consent given or withdrawn.
type ConsentInput struct {
	Kind   string // kopilka.ConsentPersonalData or kopilka.ConsentMarketing
	Source string // one of ConsentSources; "" means "api"
}

func (in *ConsentInput) validate() error {
	if in.Kind != kopilka.ConsentPersonalData && in.Kind != kopilka.ConsentMarketing {
		return kopilka.Invalid("kind", "must be personal_data or marketing")
	}
	if in.Source == "" {
		in.Source = "api"
	}
	if !slices.Contains(ConsentSources(), in.Source) {
		return kopilka.Invalid("source", "must be one of %s", strings.Join(ConsentSources(), ", "))
	}
	return nil
}

// GiveConsent records that the customer gave a consent (again, when it
// was in force already: a renewal is a record too). A marketing consent
// also sets the customer's ad_consent.
func (s *Service) GiveConsent(ctx context.Context, tenantID, customerID string, in ConsentInput, idem *Idem) (*kopilka.Consent, error) {
	return s.consent(ctx, tenantID, customerID, in, kopilka.ConsentGiven, idem)
}

// WithdrawConsent records the withdrawal of a consent in force; conflict
// when it is not. A marketing withdrawal clears ad_consent.
func (s *Service) WithdrawConsent(ctx context.Context, tenantID, customerID string, in ConsentInput, idem *Idem) (*kopilka.Consent, error) {
	return s.consent(ctx, tenantID, customerID, in, kopilka.ConsentWithdrawn, idem)
}

func (s *Service) consent(ctx context.Context, tenantID, customerID string, in ConsentInput, action string, idem *Idem) (*kopilka.Consent, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	actor := kopilka.ActorFrom(ctx).Name
	v, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		c, err := tx.GetCustomer(ctx, tenantID, customerID, true)
		if err != nil {
			return nil, notFound(err, kopilka.CodeNotFound, "customer")
		}
		if action == kopilka.ConsentWithdrawn {
			recs, err := tx.ListConsents(ctx, tenantID, customerID)
			if err != nil {
				return nil, err
			}
			if !InForce(recs, in.Kind) && !(in.Kind == kopilka.ConsentMarketing && c.AdConsent) {
				return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "kind",
					Message: fmt.Sprintf("the customer has no %s consent in force to withdraw", in.Kind)}
			}
		}
		rec := &kopilka.Consent{ID: kopilka.NewID("cns"), CustomerID: customerID, Kind: in.Kind, Action: action,
			Source: in.Source, Actor: actor}
		if err := tx.AddConsent(ctx, tenantID, rec); err != nil {
			return nil, err
		}
		if in.Kind == kopilka.ConsentMarketing {
			if err := syncAdConsent(ctx, tx, c, action == kopilka.ConsentGiven, in.Source, actor); err != nil {
				return nil, err
			}
		}
		return rec, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*kopilka.Consent), nil
}

// syncAdConsent makes the customer's ad_consent say what the latest
// marketing record says, noting the change in the history.
func syncAdConsent(ctx context.Context, tx storage.Tx, c *kopilka.Customer, given bool, source, actor string) error {
	old := c.AdConsent
	now := tx.Now()
	c.AdConsent, c.AdConsentAt, c.AdConsentVia = given, &now, source
	if err := tx.UpdateCustomer(ctx, c); err != nil {
		return err
	}
	if old == given {
		return nil
	}
	return tx.AddCustomerChanges(ctx, c.TenantID, []kopilka.CustomerChange{{CustomerID: c.ID, Field: "ad_consent",
		OldValue: strconv.FormatBool(old), NewValue: strconv.FormatBool(given), Actor: actor}})
}

// InForce reports whether the latest record of kind in recs (oldest
// first) gives the consent.
func InForce(recs []kopilka.Consent, kind string) bool {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == kind {
			return recs[i].Action == kopilka.ConsentGiven
		}
	}
	return false
}

// Consents returns a customer's consent history, oldest first.
func (s *Service) Consents(ctx context.Context, tenantID, customerID string) ([]kopilka.Consent, error) {
	var out []kopilka.Consent
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		if _, err := tx.GetCustomer(ctx, tenantID, customerID, false); err != nil {
			return err
		}
		var err error
		out, err = tx.ListConsents(ctx, tenantID, customerID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound(err, kopilka.CodeNotFound, "customer")
	}
	return out, err
}

// marketingRecord is the consent record of an ad_consent set on a
// customer through its profile (creation or PATCH).
func marketingRecord(customerID string, given bool, actor string) *kopilka.Consent {
	action := kopilka.ConsentWithdrawn
	if given {
		action = kopilka.ConsentGiven
	}
	return &kopilka.Consent{ID: kopilka.NewID("cns"), CustomerID: customerID, Kind: kopilka.ConsentMarketing,
		Action: action, Source: "api", Actor: actor}
}
