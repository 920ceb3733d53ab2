package loyalty_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

func TestCreateTenant(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		if !kopilka.ValidID("ten", e.tenant.ID) || e.tenant.Name != "Аптека №1" {
			t.Errorf("CreateTenant() = %+v, want a ten_ id and the name", e.tenant)
		}
		got, err := e.svc.GetTenant(e.ctx, e.tenant.ID)
		if err != nil || got.Name != e.tenant.Name {
			t.Errorf("GetTenant(%s) = %+v, %v, want the tenant", e.tenant.ID, got, err)
		}
		_, err = e.svc.GetTenant(e.ctx, kopilka.NewID("ten"))
		wantCode(t, "GetTenant(unknown)", err, kopilka.CodeNotFound)
		for _, name := range []string{"", "   ", strings.Repeat("я", 201)} {
			_, _, err := e.svc.CreateTenant(e.ctx, name)
			wantCode(t, "CreateTenant("+name+")", err, kopilka.CodeInvalidRequest)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		plain := e.key.Plain
		k, err := e.svc.Authenticate(e.ctx, plain)
		if err != nil {
			t.Fatalf("Authenticate(admin key) = %v", err)
		}
		if k.TenantID != e.tenant.ID || !k.HasScope(kopilka.ScopeAdmin) || k.StoreID != "" || k.ID != e.key.Key.ID {
			t.Errorf("Authenticate(admin key) = %+v, want the tenant's unbound admin key %s", k, e.key.Key.ID)
		}

		// Flip one character of the secret, of the id, and of the prefix.
		flip := func(s string, i int) string {
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}
		idEnd := strings.LastIndexByte(plain, '_')
		bad := map[string]string{
			"Empty":               "",
			"TamperedSecret":      flip(plain, len(plain)-1),
			"TamperedID":          plain[:len("kopilka_")] + flipID(plain[len("kopilka_"):idEnd]) + plain[idEnd:],
			"WrongPrefix":         "kopilkA_" + plain[len("kopilka_"):],
			"NoPrefix":            plain[len("kopilka_"):],
			"BearerIncluded":      "Bearer " + plain,
			"SecretMissing":       plain[:idEnd],
			"SecretTruncated":     plain[:len(plain)-1],
			"TrailingSpace":       plain + " ",
			"UnknownID":           "kopilka_" + strings.TrimPrefix(kopilka.NewID("key"), "key_") + plain[idEnd:],
			"MalformedID":         "kopilka_../../x" + plain[idEnd:],
			"TamperedSecretStart": flip(plain, len("kopilka_")+16+3),
		}
		for name, key := range bad {
			_, err := e.svc.Authenticate(e.ctx, key)
			wantCode(t, "Authenticate("+name+")", err, kopilka.CodeUnauthorized)
		}

		// A revoked key stops working; revoking again is not_found.
		if err := e.svc.RevokeAPIKey(e.ctx, e.tenant.ID, e.key.Key.ID); err != nil {
			t.Fatalf("RevokeAPIKey() = %v", err)
		}
		_, err = e.svc.Authenticate(e.ctx, plain)
		wantCode(t, "Authenticate(revoked key)", err, kopilka.CodeUnauthorized)
		err = e.svc.RevokeAPIKey(e.ctx, e.tenant.ID, e.key.Key.ID)
		wantCode(t, "RevokeAPIKey(revoked key)", err, kopilka.CodeNotFound)
	})
}

// flipID changes the first character of a key id to another valid one.
func flipID(id string) string {
	if id[0] == '0' {
		return "1" + id[1:]
	}
	return "0" + id[1:]
}

func TestRevokeAPIKeyOtherTenant(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		_, other, err := e.svc.CreateTenant(e.ctx, "Other")
		if err != nil {
			t.Fatalf("CreateTenant() = %v", err)
		}
		err = e.svc.RevokeAPIKey(e.ctx, e.tenant.ID, other.Key.ID)
		wantCode(t, "RevokeAPIKey(other tenant's key)", err, kopilka.CodeNotFound)
		if _, err := e.svc.Authenticate(e.ctx, other.Plain); err != nil {
			t.Errorf("Authenticate(other tenant's key) = %v, want it still valid", err)
		}
		keys, err := e.svc.ListAPIKeys(e.ctx, e.tenant.ID)
		if err != nil || len(keys) != 1 || keys[0].ID != e.key.Key.ID {
			t.Errorf("ListAPIKeys() = %+v, %v, want only the tenant's own key", keys, err)
		}
	})
}

func TestCreateAPIKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		store, err := e.svc.CreateStore(e.ctx, e.tenant.ID, loyalty.StoreInput{Name: "Тверская, 7"})
		if err != nil {
			t.Fatalf("CreateStore() = %v", err)
		}
		_, other, err := e.svc.CreateTenant(e.ctx, "Other")
		if err != nil {
			t.Fatalf("CreateTenant() = %v", err)
		}
		otherStore, err := e.svc.CreateStore(e.ctx, other.Key.TenantID, loyalty.StoreInput{Name: "Чужой"})
		if err != nil {
			t.Fatalf("CreateStore(other tenant) = %v", err)
		}

		invalid := []struct {
			name  string
			in    loyalty.KeyInput
			field string
		}{
			{name: "NoScopes", in: loyalty.KeyInput{Name: "kassa"}, field: "scopes"},
			{name: "UnknownScope", in: loyalty.KeyInput{Scopes: []kopilka.Scope{"root"}}, field: "scopes"},
			{name: "OneUnknownScope", in: loyalty.KeyInput{Scopes: []kopilka.Scope{kopilka.ScopePOS, "Admin"}}, field: "scopes"},
			{name: "NameTooLong", in: loyalty.KeyInput{Name: strings.Repeat("я", 201), Scopes: []kopilka.Scope{kopilka.ScopePOS}}, field: "name"},
			{name: "UnknownStore", in: loyalty.KeyInput{Scopes: []kopilka.Scope{kopilka.ScopePOS}, StoreID: kopilka.NewID("sto")}, field: "store_id"},
			{name: "OtherTenantsStore", in: loyalty.KeyInput{Scopes: []kopilka.Scope{kopilka.ScopePOS}, StoreID: otherStore.ID}, field: "store_id"},
		}
		for _, tt := range invalid {
			_, err := e.svc.CreateAPIKey(e.ctx, e.tenant.ID, tt.in)
			if ke := kopilka.AsError(err); ke == nil || ke.Code != kopilka.CodeInvalidRequest || ke.Field != tt.field {
				t.Errorf("%s: CreateAPIKey(%+v) = %v, want invalid_request on %q", tt.name, tt.in, err, tt.field)
			}
		}

		nk, err := e.svc.CreateAPIKey(e.ctx, e.tenant.ID, loyalty.KeyInput{Name: "Касса 1", Scopes: []kopilka.Scope{kopilka.ScopePOS}, StoreID: store.ID})
		if err != nil {
			t.Fatalf("CreateAPIKey(pos, bound) = %v", err)
		}
		k, err := e.svc.Authenticate(e.ctx, nk.Plain)
		if err != nil {
			t.Fatalf("Authenticate(pos key) = %v", err)
		}
		want := struct {
			Tenant, Store, Name string
			POS, Admin          bool
		}{e.tenant.ID, store.ID, "Касса 1", true, false}
		got := struct {
			Tenant, Store, Name string
			POS, Admin          bool
		}{k.TenantID, k.StoreID, k.Name, k.HasScope(kopilka.ScopePOS), k.HasScope(kopilka.ScopeAdmin)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Authenticate(pos key) mismatch (-want +got):\n%s", diff)
		}
		if strings.Contains(string(k.Digest), nk.Plain) || len(k.Digest) != 32 {
			t.Errorf("stored key digest has %d bytes, want a 32-byte SHA-256 digest, not the key", len(k.Digest))
		}
	})
}

func TestCreateStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		invalid := []struct {
			name  string
			in    loyalty.StoreInput
			field string
		}{
			{name: "NoName", in: loyalty.StoreInput{}, field: "name"},
			{name: "BlankName", in: loyalty.StoreInput{Name: " \t "}, field: "name"},
			{name: "NameTooLong", in: loyalty.StoreInput{Name: strings.Repeat("я", 201)}, field: "name"},
			{name: "AddressTooLong", in: loyalty.StoreInput{Name: "A", Address: strings.Repeat("я", 501)}, field: "address"},
			{name: "BadPhone", in: loyalty.StoreInput{Name: "A", Phone: "123"}, field: "phone"},
			{name: "HoursNumber", in: loyalty.StoreInput{Name: "A", Hours: json.RawMessage(`42`)}, field: "hours"},
			{name: "HoursTrue", in: loyalty.StoreInput{Name: "A", Hours: json.RawMessage(`true`)}, field: "hours"},
			{name: "HoursTooLarge", in: loyalty.StoreInput{Name: "A", Hours: json.RawMessage(`"` + strings.Repeat("9", 4096) + `"`)}, field: "hours"},
			{name: "HoursNotJSON", in: loyalty.StoreInput{Name: "A", Hours: json.RawMessage(`{"mon": `)}, field: "hours"},
		}
		for _, tt := range invalid {
			_, err := e.svc.CreateStore(e.ctx, e.tenant.ID, tt.in)
			if ke := kopilka.AsError(err); ke == nil || ke.Code != kopilka.CodeInvalidRequest || ke.Field != tt.field {
				t.Errorf("%s: CreateStore() = %v, want invalid_request on %q", tt.name, err, tt.field)
			}
		}

		valid := []struct {
			name  string
			in    loyalty.StoreInput
			phone string
		}{
			{name: "Minimal", in: loyalty.StoreInput{Name: "Склад"}},
			{name: "Full", in: loyalty.StoreInput{Name: " Аптека на Тверской ", Address: "Москва, Тверская, 7",
				Phone: "8 (495) 123-45-67", Hours: json.RawMessage(`"Пн–Пт 9:00–21:00"`)}, phone: "+74951234567"},
			{name: "HoursObject", in: loyalty.StoreInput{Name: "B", Hours: json.RawMessage(`{"mon": "9-21"}`)}},
			{name: "HoursNull", in: loyalty.StoreInput{Name: "C", Hours: json.RawMessage(`null`)}},
		}
		ids := map[string]bool{}
		for _, tt := range valid {
			st, err := e.svc.CreateStore(e.ctx, e.tenant.ID, tt.in)
			if err != nil {
				t.Fatalf("%s: CreateStore() = %v", tt.name, err)
			}
			if st.Name != strings.TrimSpace(tt.in.Name) || st.Phone != tt.phone {
				t.Errorf("%s: CreateStore() = name %q phone %q, want %q, %q", tt.name, st.Name, st.Phone, strings.TrimSpace(tt.in.Name), tt.phone)
			}
			got, err := e.svc.GetStore(e.ctx, e.tenant.ID, st.ID)
			if err != nil {
				t.Fatalf("%s: GetStore() = %v", tt.name, err)
			}
			if got.Name != st.Name || got.Phone != st.Phone || got.Address != st.Address {
				t.Errorf("%s: GetStore() = %+v, want %+v", tt.name, got, st)
			}
			if len(tt.in.Hours) > 0 && !jsonEqual(got.Hours, tt.in.Hours) {
				t.Errorf("%s: GetStore().Hours = %s, want %s", tt.name, got.Hours, tt.in.Hours)
			}
			ids[st.ID] = true
		}
		list, err := e.svc.ListStores(e.ctx, e.tenant.ID)
		if err != nil || len(list) != len(valid) {
			t.Fatalf("ListStores() = %d stores, %v, want %d", len(list), err, len(valid))
		}
		for _, st := range list {
			if !ids[st.ID] {
				t.Errorf("ListStores() has %s, which this test did not create", st.ID)
			}
		}
		_, err = e.svc.GetStore(e.ctx, e.tenant.ID, kopilka.NewID("sto"))
		wantCode(t, "GetStore(unknown)", err, kopilka.CodeNotFound)
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}
