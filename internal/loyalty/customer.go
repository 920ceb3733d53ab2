package loyalty

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// CustomerInput is a new customer as a client describes it.
type CustomerInput struct {
	Customer kopilka.Customer // profile fields; ID, tenant and sums are ignored
	Card     string           // an optional card number to bind
}

// CreateCustomer enrols a customer, binds the card and pays the welcome
// bonus of the programme, all at once.
func (s *Service) CreateCustomer(ctx context.Context, tenantID string, in CustomerInput, idem *Idem) (*kopilka.Customer, error) {
	c := in.Customer
	c.ID, c.TenantID, c.PurchasesTotal, c.Debt, c.Cards = kopilka.NewID("cus"), tenantID, 0, 0, nil
	if err := kopilka.ValidateCustomer(&c); err != nil {
		return nil, err
	}
	if err := kopilka.ValidateCustomerText(nil, &c); err != nil {
		return nil, err
	}
	if in.Card != "" {
		if err := kopilka.ValidateCardNumber(in.Card); err != nil {
			return nil, err
		}
		c.Cards = []kopilka.Card{{Number: in.Card, Kind: "plastic", Status: "active"}}
	}
	if c.AdConsent {
		now := s.clock().UTC()
		c.AdConsentAt, c.AdConsentVia = &now, "api"
	}
	v, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if c.Kind == kopilka.LegalEntity && !t.Settings.AllowLegalEntities {
			return nil, &kopilka.Error{Code: kopilka.CodeNotEligible, Field: "kind",
				Message: "only individuals take part in this programme; legal entities are not eligible"}
		}
		cc := c
		cc.Cards = slices.Clone(c.Cards)
		if err := tx.CreateCustomer(ctx, &cc); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: conflictField(err, in.Card),
					Message: "a customer with this phone or card already exists", Err: err}
			}
			return nil, err
		}
		if cc.AdConsent {
			if err := tx.AddConsent(ctx, tenantID, marketingRecord(cc.ID, true, kopilka.ActorFrom(ctx).Name)); err != nil {
				return nil, err
			}
		}
		if err := welcomeBonus(ctx, tx, &cc); err != nil {
			return nil, err
		}
		return &cc, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*kopilka.Customer), nil
}

func conflictField(err error, card string) string {
	if card != "" && strings.Contains(err.Error(), "card") {
		return "card"
	}
	return "phone"
}

func welcomeBonus(ctx context.Context, tx storage.Tx, c *kopilka.Customer) error {
	p, err := tx.GetProgram(ctx, c.TenantID)
	if err != nil || p.WelcomeBonus <= 0 {
		return err
	}
	op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: c.TenantID, CustomerID: c.ID, Type: kopilka.OpBonus,
		Status: kopilka.StatusComplete, Amount: p.WelcomeBonus, Message: "welcome bonus"}
	return credit(ctx, tx, c, op, ledger.Issued, programTimes(p, tx.Now(), false))
}

// GetCustomer loads a customer by id.
func (s *Service) GetCustomer(ctx context.Context, tenantID, id string) (*kopilka.Customer, *kopilka.Balance, error) {
	var c *kopilka.Customer
	var b *kopilka.Balance
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		c, b, err = s.customerBalance(ctx, tx, tenantID, id)
		return err
	})
	if err != nil {
		return nil, nil, notFound(err, kopilka.CodeNotFound, "customer")
	}
	return c, b, nil
}

// customerBalance reads a customer (the survivor of a merged id) and its
// balance in tx; storage.ErrNotFound for nobody or a deleted customer.
func (s *Service) customerBalance(ctx context.Context, tx storage.Tx, tenantID, id string) (*kopilka.Customer, *kopilka.Balance, error) {
	c, err := tx.GetCustomer(ctx, tenantID, id, false)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.balance(ctx, tx, tenantID, c.ID)
	if err != nil {
		return nil, nil, err
	}
	return c, b, nil
}

// Ref identifies a customer by exactly one of id, card number or phone.
type Ref struct {
	ID, Card, Phone string
}

// FindCustomer identifies a customer, with the balance and tier a till
// needs next; customer_not_found when nobody matches.
func (s *Service) FindCustomer(ctx context.Context, tenantID string, ref Ref) (*kopilka.Customer, *kopilka.Balance, error) {
	var c *kopilka.Customer
	var b *kopilka.Balance
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		id, err := resolve(ctx, tx, tenantID, ref)
		if err != nil {
			return err
		}
		c, b, err = s.customerBalance(ctx, tx, tenantID, id)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, &kopilka.Error{Code: kopilka.CodeCustomerNotFound, Message: "no customer with this id, card or phone", Err: err}
	}
	if err != nil {
		return nil, nil, err
	}
	return c, b, nil
}

func resolve(ctx context.Context, tx storage.Tx, tenantID string, ref Ref) (string, error) {
	n := 0
	for _, v := range []string{ref.ID, ref.Card, ref.Phone} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return "", kopilka.Invalid("customer", "identify the customer by exactly one of id, card or phone")
	}
	switch {
	case ref.ID != "":
		return ref.ID, nil
	case ref.Card != "":
		return cardHolder(ctx, tx, tenantID, ref.Card)
	}
	p, ok := kopilka.NormalizePhone(ref.Phone)
	if !ok {
		return "", kopilka.Invalid("phone", "%q is not a phone number", ref.Phone)
	}
	return tx.CustomerIDByPhone(ctx, tenantID, p)
}

// UpdateCustomer applies a patch and records every changed field in the
// customer's history with who changed it.
func (s *Service) UpdateCustomer(ctx context.Context, tenantID, id string, p kopilka.CustomerPatch) (*kopilka.Customer, error) {
	actor := kopilka.ActorFrom(ctx).Name
	var out *kopilka.Customer
	err := s.db.Write(ctx, func(tx storage.Tx) error {
		c, err := tx.GetCustomer(ctx, tenantID, id, true)
		if err != nil {
			return err
		}
		old := *c
		old.Tags = slices.Clone(c.Tags)
		applyPatch(c, p, tx)
		if err := kopilka.ValidateCustomer(c); err != nil {
			return err
		}
		if err := kopilka.ValidateCustomerText(&old, c); err != nil {
			return err
		}
		changes := diffCustomer(&old, c, actor)
		if len(changes) == 0 {
			out = c
			return nil
		}
		if err := tx.UpdateCustomer(ctx, c); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return &kopilka.Error{Code: kopilka.CodeConflict, Field: "phone", Message: "another customer has this phone", Err: err}
			}
			return err
		}
		if err := tx.AddCustomerChanges(ctx, tenantID, changes); err != nil {
			return err
		}
		if c.AdConsent != old.AdConsent {
			if err := tx.AddConsent(ctx, tenantID, marketingRecord(c.ID, c.AdConsent, actor)); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	return out, notFound(err, kopilka.CodeNotFound, "customer")
}

func applyPatch(c *kopilka.Customer, p kopilka.CustomerPatch, tx storage.Tx) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Phone, p.Phone)
	set(&c.ExtraPhone, p.ExtraPhone)
	set(&c.Email, p.Email)
	set(&c.FirstName, p.FirstName)
	set(&c.LastName, p.LastName)
	set(&c.MiddleName, p.MiddleName)
	set(&c.BirthDate, p.BirthDate)
	set(&c.Gender, p.Gender)
	set(&c.Group, p.Group)
	if p.Tags != nil {
		c.Tags = slices.Clone(*p.Tags)
	}
	if p.AdConsent != nil && *p.AdConsent != c.AdConsent {
		c.AdConsent = *p.AdConsent
		now := tx.Now()
		c.AdConsentAt, c.AdConsentVia = &now, "api"
	}
}

func diffCustomer(a, b *kopilka.Customer, actor string) []kopilka.CustomerChange {
	var ch []kopilka.CustomerChange
	add := func(field, o, n string) {
		if o != n {
			ch = append(ch, kopilka.CustomerChange{CustomerID: b.ID, Field: field, OldValue: o, NewValue: n, Actor: actor})
		}
	}
	add("phone", a.Phone, b.Phone)
	add("extra_phone", a.ExtraPhone, b.ExtraPhone)
	add("email", a.Email, b.Email)
	add("first_name", a.FirstName, b.FirstName)
	add("last_name", a.LastName, b.LastName)
	add("middle_name", a.MiddleName, b.MiddleName)
	add("birth_date", a.BirthDate, b.BirthDate)
	add("gender", a.Gender, b.Gender)
	add("ad_consent", fmt.Sprint(a.AdConsent), fmt.Sprint(b.AdConsent))
	add("group", a.Group, b.Group)
	add("tags", strings.Join(a.Tags, ","), strings.Join(b.Tags, ","))
	return ch
}

// CustomerHistory pages the changes of a customer's profile, newest first.
func (s *Service) CustomerHistory(ctx context.Context, tenantID, id string, before int64, limit int) ([]kopilka.CustomerChange, error) {
	var out []kopilka.CustomerChange
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		c, err := tx.GetCustomer(ctx, tenantID, id, false)
		if err != nil {
			return err
		}
		out, err = tx.ListCustomerChanges(ctx, tenantID, c.ID, before, limit)
		return err
	})
	return out, notFound(err, kopilka.CodeNotFound, "customer")
}
