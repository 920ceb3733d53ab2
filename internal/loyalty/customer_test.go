package loyalty_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage"
)

func TestCreateCustomer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		in := loyalty.CustomerInput{
			Customer: kopilka.Customer{Phone: "8 (912) 345-67-89", Email: "ivan@example.ru", FirstName: "Иван",
				BirthDate: "1990-05-17", Gender: "male", AdConsent: true},
			Card: "2000000000017",
		}
		c, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, in, nil)
		if err != nil {
			t.Fatalf("CreateCustomer() = %v", err)
		}
		if !kopilka.ValidID("cus", c.ID) || c.TenantID != e.tenant.ID || c.Phone != "+79123456789" || c.Kind != kopilka.Individual {
			t.Errorf("CreateCustomer() = %+v, want a cus_ id, the tenant, phone +79123456789, kind individual", c)
		}
		if c.AdConsentAt == nil || !c.AdConsentAt.Equal(t0) || c.AdConsentVia != "api" {
			t.Errorf("CreateCustomer() consent at %v via %q, want %v via api", c.AdConsentAt, c.AdConsentVia, t0)
		}
		got, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, c.ID)
		if err != nil {
			t.Fatalf("GetCustomer() = %v", err)
		}
		wantCards := []kopilka.Card{{Number: "2000000000017", CustomerID: c.ID, Kind: "plastic", Status: "active", CreatedAt: t0}}
		if diff := cmp.Diff(wantCards, got.Cards); diff != "" {
			t.Errorf("GetCustomer().Cards mismatch (-want +got):\n%s", diff)
		}
		if got.Phone != c.Phone || got.Email != c.Email || got.FirstName != c.FirstName || got.BirthDate != c.BirthDate {
			t.Errorf("GetCustomer() = %+v, want the profile created %+v", got, c)
		}
		if ops := e.operations(t, c.ID); len(ops) != 0 {
			t.Errorf("Operations() = %v, want none without a welcome bonus", ops)
		}

		tests := []struct {
			name  string
			in    loyalty.CustomerInput
			code  kopilka.Code
			field string
		}{
			{name: "DuplicatePhoneOtherSpelling", in: loyalty.CustomerInput{Customer: kopilka.Customer{Phone: "+7 912 345 67 89"}},
				code: kopilka.CodeConflict, field: "phone"},
			{name: "DuplicateCard", in: loyalty.CustomerInput{Customer: kopilka.Customer{Phone: "+7 912 000 00 01"}, Card: "2000000000017"},
				code: kopilka.CodeConflict, field: "card"},
			{name: "LegalEntityNotAllowed", in: loyalty.CustomerInput{Customer: kopilka.Customer{Kind: kopilka.LegalEntity}},
				code: kopilka.CodeNotEligible, field: "kind"},
			{name: "BadPhone", in: loyalty.CustomerInput{Customer: kopilka.Customer{Phone: "+70000000000"}},
				code: kopilka.CodeInvalidRequest, field: "phone"},
			{name: "BadEmail", in: loyalty.CustomerInput{Customer: kopilka.Customer{Email: "nobody"}},
				code: kopilka.CodeInvalidRequest, field: "email"},
			{name: "BadCard", in: loyalty.CustomerInput{Customer: kopilka.Customer{}, Card: "2000 0000"},
				code: kopilka.CodeInvalidRequest, field: "card"},
		}
		for _, tt := range tests {
			_, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, tt.in, nil)
			if ke := kopilka.AsError(err); ke == nil || ke.Code != tt.code || ke.Field != tt.field {
				t.Errorf("%s: CreateCustomer() = %v, want %s on %q", tt.name, err, tt.code, tt.field)
			}
		}
		// The refused duplicate card left no customer behind: its phone is free.
		if _, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Phone: "+79120000001"}); kopilka.ErrorCode(err) != kopilka.CodeCustomerNotFound {
			t.Errorf("FindCustomer(phone of refused customer) = %v, want customer_not_found", err)
		}
	})
}

func TestCreateCustomerLegalEntityAllowed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ten := &kopilka.Tenant{ID: kopilka.NewID("ten"), Name: "Опт", Settings: kopilka.TenantSettings{AllowLegalEntities: true}}
		if err := e.db.Write(e.ctx, func(tx storage.Tx) error { return tx.CreateTenant(e.ctx, ten) }); err != nil {
			t.Fatalf("CreateTenant(allow legal entities) = %v", err)
		}
		c, err := e.svc.CreateCustomer(e.ctx, ten.ID, loyalty.CustomerInput{Customer: kopilka.Customer{Kind: kopilka.LegalEntity, FirstName: "ООО Ромашка"}}, nil)
		if err != nil {
			t.Fatalf("CreateCustomer(legal entity, allowed) = %v", err)
		}
		if c.Kind != kopilka.LegalEntity {
			t.Errorf("CreateCustomer(legal entity).Kind = %q, want legal_entity", c.Kind)
		}
		_, err = e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{Customer: kopilka.Customer{Kind: kopilka.LegalEntity}}, nil)
		wantCode(t, "CreateCustomer(legal entity, other tenant)", err, kopilka.CodeNotEligible)
	})
}

func TestCreateCustomerWelcomeBonus(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.setProgram(t, func(p *kopilka.Program) { p.WelcomeBonus, p.ExpiryDays = 50000, 30 })
		idem := &loyalty.Idem{Scope: "POST /v1/customers", Key: "k1", Hash: []byte("h1"),
			Render: func(v any, err error) (int, []byte) {
				if err != nil {
					return 422, []byte(kopilka.ErrorCode(err))
				}
				return 201, []byte(v.(*kopilka.Customer).ID)
			}}
		in := loyalty.CustomerInput{Customer: kopilka.Customer{Phone: "9123456789"}}
		c, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, in, idem)
		if err != nil {
			t.Fatalf("CreateCustomer() = %v", err)
		}
		// A retry under the same key replays the first answer and pays nothing.
		_, err = e.svc.CreateCustomer(e.ctx, e.tenant.ID, in, idem)
		if r := loyalty.AsReplay(err); r == nil || r.Status != 201 || string(r.Body) != c.ID {
			t.Fatalf("CreateCustomer(retry) = %v, want a replay of 201 %s", err, c.ID)
		}
		// A profile change pays nothing either.
		name := "Анна"
		if _, err := e.svc.UpdateCustomer(e.ctx, e.tenant.ID, c.ID, kopilka.CustomerPatch{FirstName: &name}); err != nil {
			t.Fatalf("UpdateCustomer() = %v", err)
		}

		ops := e.operations(t, c.ID)
		want := []kopilka.Operation{{TenantID: e.tenant.ID, CustomerID: c.ID, Type: kopilka.OpBonus, Status: kopilka.StatusComplete,
			Amount: 50000, Message: "welcome bonus", CreatedAt: t0, UpdatedAt: t0}}
		if diff := cmp.Diff(want, ops, cmpopts.IgnoreFields(kopilka.Operation{}, "ID")); diff != "" {
			t.Errorf("Operations() mismatch (-want +got):\n%s", diff)
		}
		expires := t0.AddDate(0, 0, 30)
		lots := e.lots(t, c.ID)
		if len(lots) != 1 || lots[0].Amount != 50000 || lots[0].Remaining != 50000 || lots[0].State != kopilka.LotActive ||
			lots[0].ExpiresAt == nil || !lots[0].ExpiresAt.Equal(expires) || len(ops) != 1 || lots[0].OperationID != ops[0].ID {
			t.Errorf("lots = %+v, want one active lot of 50000 expiring %v made by the bonus operation", lots, expires)
		}
		b := e.balance(t, c.ID)
		wantB := &kopilka.Balance{Available: 50000, Expiring: []kopilka.Expiring{{Amount: 50000, ExpiresAt: expires}}, Tier: "Base"}
		if diff := cmp.Diff(wantB, b); diff != "" {
			t.Errorf("Balance() mismatch (-want +got):\n%s", diff)
		}
		if got := e.systemBalances(t)[ledger.Issued]; got != -50000 {
			t.Errorf("issued = %d, want -50000 (one bonus)", got)
		}
		// Another customer gets a bonus of their own.
		d := e.customer(t, kopilka.Customer{})
		if b := e.balance(t, d.ID); b.Available != 50000 {
			t.Errorf("Balance(second customer).Available = %d, want 50000", b.Available)
		}
	})
}

func TestFindCustomer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{
			Customer: kopilka.Customer{Phone: "+79123456789"}, Card: "CARD-1"}, nil)
		if err != nil {
			t.Fatalf("CreateCustomer() = %v", err)
		}
		found := []struct {
			name string
			ref  loyalty.Ref
		}{
			{"ByID", loyalty.Ref{ID: c.ID}},
			{"ByCard", loyalty.Ref{Card: "CARD-1"}},
			{"ByPhoneE164", loyalty.Ref{Phone: "+79123456789"}},
			{"ByPhoneAsTyped", loyalty.Ref{Phone: "8 (912) 345-67-89"}},
			{"ByBarePhone", loyalty.Ref{Phone: "9123456789"}},
		}
		for _, tt := range found {
			got, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, tt.ref)
			if err != nil || got.ID != c.ID {
				t.Errorf("%s: FindCustomer(%+v) = %v, %v, want %s", tt.name, tt.ref, got, err, c.ID)
			}
		}
		missing := []struct {
			name string
			ref  loyalty.Ref
			code kopilka.Code
		}{
			{"UnknownID", loyalty.Ref{ID: kopilka.NewID("cus")}, kopilka.CodeCustomerNotFound},
			{"GarbageID", loyalty.Ref{ID: "'; DROP TABLE customers; --"}, kopilka.CodeCustomerNotFound},
			{"UnknownCard", loyalty.Ref{Card: "CARD-2"}, kopilka.CodeCustomerNotFound},
			{"CardOtherCase", loyalty.Ref{Card: "card-1"}, kopilka.CodeCustomerNotFound},
			{"UnknownPhone", loyalty.Ref{Phone: "+79123456780"}, kopilka.CodeCustomerNotFound},
			{"Nothing", loyalty.Ref{}, kopilka.CodeInvalidRequest},
			{"Two", loyalty.Ref{ID: c.ID, Card: "CARD-1"}, kopilka.CodeInvalidRequest},
			{"BadPhone", loyalty.Ref{Phone: "call me"}, kopilka.CodeInvalidRequest},
		}
		for _, tt := range missing {
			_, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, tt.ref)
			wantCode(t, tt.name+": FindCustomer", err, tt.code)
		}
		// Another tenant sees nobody.
		ten2, _, err := e.svc.CreateTenant(e.ctx, "Second")
		if err != nil {
			t.Fatalf("CreateTenant() = %v", err)
		}
		for _, ref := range []loyalty.Ref{{ID: c.ID}, {Card: "CARD-1"}, {Phone: "+79123456789"}} {
			_, _, err := e.svc.FindCustomer(e.ctx, ten2.ID, ref)
			wantCode(t, "FindCustomer(other tenant)", err, kopilka.CodeCustomerNotFound)
		}
		_, _, err = e.svc.GetCustomer(e.ctx, ten2.ID, c.ID)
		wantCode(t, "GetCustomer(other tenant)", err, kopilka.CodeNotFound)
	})
}

func TestUpdateCustomer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{Phone: "+79123456789", FirstName: "Иван", Email: "ivan@example.ru", Tags: []string{"vip"}})
		e.customer(t, kopilka.Customer{Phone: "+79120000002"})
		ctx := kopilka.WithActor(e.ctx, kopilka.Actor{TenantID: e.tenant.ID, KeyID: "key_admin", Name: "key_admin"})
		ptr := func(s string) *string { return &s }

		e.clock.Advance(time.Hour)
		tags := []string{"vip", "опт"}
		yes := true
		got, err := e.svc.UpdateCustomer(ctx, e.tenant.ID, c.ID, kopilka.CustomerPatch{
			FirstName: ptr("Пётр"), Email: ptr(" petr@example.ru "), Tags: &tags, AdConsent: &yes,
			Phone: ptr("8 (912) 345-67-89"), // the same number, typed differently: no change
		})
		if err != nil {
			t.Fatalf("UpdateCustomer() = %v", err)
		}
		if got.FirstName != "Пётр" || got.Email != "petr@example.ru" || got.Phone != "+79123456789" || !got.AdConsent ||
			got.AdConsentAt == nil || !got.AdConsentAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("UpdateCustomer() = %+v, want the patch applied and normalised", got)
		}
		reread, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, c.ID)
		if err != nil || reread.FirstName != "Пётр" || !cmp.Equal(reread.Tags, tags) {
			t.Errorf("GetCustomer() after update = %+v, %v, want the new name and tags", reread, err)
		}
		wantHistory := []kopilka.CustomerChange{
			{CustomerID: c.ID, Field: "tags", OldValue: "vip", NewValue: "vip,опт", Actor: "key_admin", ChangedAt: t0.Add(time.Hour)},
			{CustomerID: c.ID, Field: "ad_consent", OldValue: "false", NewValue: "true", Actor: "key_admin", ChangedAt: t0.Add(time.Hour)},
			{CustomerID: c.ID, Field: "first_name", OldValue: "Иван", NewValue: "Пётр", Actor: "key_admin", ChangedAt: t0.Add(time.Hour)},
			{CustomerID: c.ID, Field: "email", OldValue: "ivan@example.ru", NewValue: "petr@example.ru", Actor: "key_admin", ChangedAt: t0.Add(time.Hour)},
		}
		history := func() []kopilka.CustomerChange {
			t.Helper()
			h, err := e.svc.CustomerHistory(e.ctx, e.tenant.ID, c.ID, 0, 100)
			if err != nil {
				t.Fatalf("CustomerHistory() = %v", err)
			}
			return h
		}
		ignoreID := cmpopts.IgnoreFields(kopilka.CustomerChange{}, "ID")
		if diff := cmp.Diff(wantHistory, history(), ignoreID); diff != "" {
			t.Errorf("CustomerHistory() mismatch (-want +got):\n%s", diff)
		}

		// Nothing changed: no history row.
		e.clock.Advance(time.Hour)
		if _, err := e.svc.UpdateCustomer(ctx, e.tenant.ID, c.ID, kopilka.CustomerPatch{FirstName: ptr(" Пётр "), Phone: ptr("+79123456789"), AdConsent: &yes}); err != nil {
			t.Fatalf("UpdateCustomer(no change) = %v", err)
		}
		if _, err := e.svc.UpdateCustomer(ctx, e.tenant.ID, c.ID, kopilka.CustomerPatch{}); err != nil {
			t.Fatalf("UpdateCustomer(empty patch) = %v", err)
		}
		if diff := cmp.Diff(wantHistory, history(), ignoreID); diff != "" {
			t.Errorf("CustomerHistory() after no-op updates mismatch (-want +got):\n%s", diff)
		}

		// Refused patches change nothing and record nothing.
		refused := []struct {
			name  string
			patch kopilka.CustomerPatch
			code  kopilka.Code
		}{
			{"TakenPhone", kopilka.CustomerPatch{Phone: ptr("+7 912 000 00 02")}, kopilka.CodeConflict},
			{"BadEmail", kopilka.CustomerPatch{Email: ptr("nobody"), FirstName: ptr("X")}, kopilka.CodeInvalidRequest},
			{"BadGender", kopilka.CustomerPatch{Gender: ptr("m")}, kopilka.CodeInvalidRequest},
		}
		for _, tt := range refused {
			_, err := e.svc.UpdateCustomer(ctx, e.tenant.ID, c.ID, tt.patch)
			wantCode(t, tt.name+": UpdateCustomer", err, tt.code)
		}
		if diff := cmp.Diff(wantHistory, history(), ignoreID); diff != "" {
			t.Errorf("CustomerHistory() after refused updates mismatch (-want +got):\n%s", diff)
		}
		_, err = e.svc.UpdateCustomer(ctx, e.tenant.ID, kopilka.NewID("cus"), kopilka.CustomerPatch{FirstName: ptr("X")})
		wantCode(t, "UpdateCustomer(unknown)", err, kopilka.CodeNotFound)

		// Without an actor in the context the change is the system's; the
		// phone can be removed.
		if _, err := e.svc.UpdateCustomer(e.ctx, e.tenant.ID, c.ID, kopilka.CustomerPatch{Phone: ptr("")}); err != nil {
			t.Fatalf("UpdateCustomer(clear phone) = %v", err)
		}
		h := history()
		wantTop := kopilka.CustomerChange{CustomerID: c.ID, Field: "phone", OldValue: "+79123456789", NewValue: "", Actor: "system", ChangedAt: t0.Add(2 * time.Hour)}
		if len(h) != len(wantHistory)+1 || !cmp.Equal(wantTop, h[0], ignoreID) {
			t.Errorf("CustomerHistory()[0] = %+v (of %d), want %+v", h[0], len(h), wantTop)
		}
		// The freed phone can be taken by a new customer.
		e.customer(t, kopilka.Customer{Phone: "+79123456789"})
	})
}
