package e2e_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/kopilka"
)

// fixture is one tenant with an object of every kind a route may name.
type fixture struct {
	tenant
	customer customer
	store    store
	program  string
	purchase purchase // pending, at store
}

func (s *server) fixture(t *testing.T, name string) fixture {
	t.Helper()
	f := fixture{tenant: s.tenant(t, name)}
	f.customer = s.newCustomer(t, f.Key, map[string]any{"phone": "+79120000001"})
	f.store = s.newStore(t, f.Key, name+" store")
	f.program = string(s.do(t, "GET", "/v1/program", f.Key, nil, nil).Body)
	f.purchase = s.newPurchase(t, f.Key, f.store.ID, f.customer.ID, false)
	return f
}

// validRequest returns a request for the route that the fixture's admin
// key may make successfully (a DELETE revokes a fresh key); false when the
// tests do not know the route yet, so a new route fails them until taught.
func (s *server) validRequest(t *testing.T, rt api.Route, f fixture) (path string, body any, ok bool) {
	t.Helper()
	kind, known := idKind(rt.Pattern)
	if !known {
		return "", nil, false
	}
	path = rt.Pattern
	switch kind {
	case "cus":
		path = fill(rt.Pattern, f.customer.ID)
		if rt.Name == "deleteCustomer" {
			// The fixture's customer has a pending purchase and serves
			// the other routes: delete one of its own.
			path = fill(rt.Pattern, s.newCustomer(t, f.Key, map[string]any{"first_name": "Probe"}).ID)
		}
	case "sto":
		path = fill(rt.Pattern, f.store.ID)
	case "key":
		path = fill(rt.Pattern, s.newAPIKey(t, f.Key, map[string]any{"scopes": []string{"pos"}}).ID)
	case "pur":
		path = fill(rt.Pattern, s.newPurchase(t, f.Key, f.store.ID, f.customer.ID, rt.Name == "createRefund").ID)
	case "prm", "ofr":
		path = fill(rt.Pattern, s.newRule(t, f.Key, kind, "Probe rule"))
	case "card":
		path = fill(rt.Pattern, s.issueCard(t, f.Key, f.customer.ID, mustJSON(map[string]string{"number": "PROBE-" + newKey()})).Number)
	case "imp":
		path = fill(rt.Pattern, s.newImport(t, f.Key, probeImport).ID)
	}
	cus := map[string]string{"id": f.customer.ID}
	bodies := map[string]string{
		"putProgram":        f.program,
		"createAPIKey":      `{"name":"probe","scopes":["pos"]}`,
		"createStore":       `{"name":"Probe store"}`,
		"createCustomer":    `{"first_name":"Probe"}`,
		"updateCustomer":    `{"first_name":"Probed"}`,
		"createAdjustment":  `{"amount":100,"reason":"probe"}`,
		"calculatePurchase": mustJSON(purchaseBody(f.store.ID, cus, "", false)),
		"createPurchase":    mustJSON(purchaseBody(f.store.ID, cus, newKey(), false)),
		"confirmPurchase":   `{}`,
		"cancelPurchase":    `{}`,
		"createRefund":      mustJSON(map[string]any{"external_id": newKey()}),
		"createPromotion":   ruleBody("prm", "Probe promo"),
		"createOffer":       ruleBody("ofr", "Probe offer"),
		"putSettings":       `{}`,
		// A prefix of its own each time: ranges never overlap.
		"createCardRange": mustJSON(map[string]any{"prefix": strings.ToUpper(strings.TrimPrefix(newKey(), "k-")[:16]), "width": 4}),
		"issueCard":       mustJSON(map[string]string{"number": "PROBE-" + newKey()}),
		"blockCard":       `{}`,
		"unblockCard":     `{}`,
		"replaceCard":     mustJSON(map[string]string{"number": "PROBE-" + newKey()}),
		"giveConsent":     `{"kind":"personal_data","source":"pos"}`,
		"withdrawConsent": `{"source":"pos"}`,
	}
	if rt.Name == "withdrawConsent" { // a consent in force to withdraw
		s.do(t, "POST", "/v1/customers/"+f.customer.ID+"/consents", f.Key, `{"kind":"marketing"}`, nil).
			want(t, "give a consent to withdraw", http.StatusCreated, "")
	}
	if rt.Name == "mergeCustomer" {
		bodies[rt.Name] = mustJSON(map[string]string{"from": s.newCustomer(t, f.Key, map[string]any{"first_name": "Probe"}).ID})
	}
	switch rt.Method {
	case "GET", "DELETE":
		switch rt.Name {
		case "findCustomer":
			path += "?id=" + f.customer.ID
		case "findPurchase":
			path += "?external_id=" + url.QueryEscape(f.purchase.ExternalID)
		}
		return path, nil, true
	}
	if rt.Name == "createImport" {
		// The harness sends JSON's Content-Type; the format says CSV.
		path, bodies[rt.Name] = path+"?format=csv", probeImport
	}
	b, ok := bodies[rt.Name]
	return path, b, ok
}

// probeImport is a customers file for the routes of imports.
const probeImport = "external_id,first_name\nPROBE-1,Probe\n"

// otherKey returns a well-formed key that was never issued.
func otherKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "kopilka_" + strings.TrimPrefix(kopilka.NewID("key"), "key_") + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// TestS2Authentication is RELIABILITY S2: on every route of the table a
// missing, malformed, unknown, forged or revoked key gets 401
// unauthorized, and revocation bites on the very next request.
func TestS2Authentication(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		f := s.fixture(t, "S2")
		revoked := s.newAPIKey(t, f.Key, map[string]any{"scopes": []string{"admin"}})
		s.do(t, "GET", "/v1/api-keys", revoked.Key, nil, nil).want(t, "the key before revocation", http.StatusOK, "")
		s.do(t, "DELETE", "/v1/api-keys/"+revoked.ID, f.Key, nil, nil).want(t, "revoke", http.StatusNoContent, "")
		s.do(t, "GET", "/v1/api-keys", revoked.Key, nil, nil).want(t, "the very next request with the revoked key", http.StatusUnauthorized, "unauthorized")

		self := s.newAPIKey(t, f.Key, map[string]any{"scopes": []string{"admin"}})
		s.do(t, "DELETE", "/v1/api-keys/"+self.ID, self.Key, nil, nil).want(t, "a key revokes itself", http.StatusNoContent, "")
		s.do(t, "GET", "/v1/program", self.Key, nil, nil).want(t, "the next request with the self-revoked key", http.StatusUnauthorized, "unauthorized")

		secret := f.Key[strings.LastIndex(f.Key, "_")+1:]
		forged := strings.TrimSuffix(f.Key, secret) + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		creds := []struct {
			name string
			auth string // the Authorization header; "" sends none
		}{
			{"no key", ""},
			{"malformed", "Bearer x"},
			{"empty bearer", "Bearer "},
			{"basic", "Basic YWRtaW46YWRtaW4="},
			{"key without scheme", f.Key},
			{"revoked", "Bearer " + revoked.Key},
			{"self-revoked", "Bearer " + self.Key},
			{"unknown tenant's key", "Bearer " + otherKey()},
			{"right id, forged secret", "Bearer " + forged},
			{"truncated", "Bearer " + f.Key[:len(f.Key)-1]},
			{"prefix only", "Bearer kopilka_"},
		}
		covered := 0
		for _, rt := range api.Routes() {
			if rt.Scope == "" {
				continue // a public route needs no key
			}
			path, body, ok := s.validRequest(t, rt, f)
			if !ok {
				t.Errorf("route %s %s: S2 cannot build a request for it; teach validRequest", rt.Method, rt.Pattern)
				continue
			}
			for _, c := range creds {
				var hdr map[string]string
				if c.auth != "" {
					hdr = map[string]string{"Authorization": c.auth}
				}
				r := s.do(t, rt.Method, path, "", body, hdr)
				if r.Status != http.StatusUnauthorized || r.code() != "unauthorized" {
					t.Errorf("%s %s with %s = %d %s, want 401 unauthorized", rt.Method, path, c.name, r.Status, r.Body)
				}
			}
			// Positive control: the live admin key passes authentication.
			if r := s.do(t, rt.Method, path, f.Key, body, nil); r.Status >= 300 {
				t.Errorf("%s %s with the live admin key = %d %s, want success", rt.Method, path, r.Status, r.Body)
			}
			covered++
		}
		if covered == 0 {
			t.Error("S2 covered no route")
		}
	})
}

// TestS6FunctionLevelAuthorization is RELIABILITY S6: a pos key, and a
// store-bound pos key, get 403 forbidden on every admin route; a key bound
// to one store may not read another.
func TestS6FunctionLevelAuthorization(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		f := s.fixture(t, "S6")
		other := s.newStore(t, f.Key, "Other store")
		pos := s.newAPIKey(t, f.Key, map[string]any{"name": "till", "scopes": []string{"pos"}})
		bound := s.newAPIKey(t, f.Key, map[string]any{"name": "bound till", "scopes": []string{"pos"}, "store_id": f.store.ID})
		if bound.StoreID == nil || *bound.StoreID != f.store.ID {
			t.Fatalf("bound key store_id = %v, want %s", bound.StoreID, f.store.ID)
		}
		admin, posRoutes := 0, 0
		for _, rt := range api.Routes() {
			for _, k := range []apiKey{pos, bound} {
				path, body, ok := s.validRequest(t, rt, f)
				if !ok {
					t.Errorf("route %s %s: S6 cannot build a request for it; teach validRequest", rt.Method, rt.Pattern)
					break
				}
				r := s.do(t, rt.Method, path, k.Key, body, nil)
				switch rt.Scope {
				case kopilka.ScopeAdmin:
					if r.Status != http.StatusForbidden || r.code() != "forbidden" {
						t.Errorf("%s %s with pos key %s = %d %s, want 403 forbidden", rt.Method, path, k.ID, r.Status, r.Body)
					}
				case kopilka.ScopePOS:
					// Positive control: the pos key works where it should.
					if r.Status >= 300 {
						t.Errorf("%s %s with pos key %s = %d %s, want success", rt.Method, path, k.ID, r.Status, r.Body)
					}
				}
			}
			switch rt.Scope {
			case kopilka.ScopeAdmin:
				admin++
			case kopilka.ScopePOS:
				posRoutes++
			}
		}
		if admin == 0 || posRoutes == 0 {
			t.Errorf("S6 covered %d admin and %d pos routes, want some of each", admin, posRoutes)
		}
		r := s.do(t, "GET", "/v1/stores/"+other.ID, bound.Key, nil, nil)
		r.want(t, "a key bound to one store reads another", http.StatusForbidden, "forbidden")
		s.do(t, "GET", "/v1/stores/"+other.ID, pos.Key, nil, nil).want(t, "an unbound pos key reads a store", http.StatusOK, "")
		s.do(t, "GET", "/v1/stores/"+f.store.ID, bound.Key, nil, nil).want(t, "a bound key reads its store", http.StatusOK, "")

		// A key bound to one store acting on another store's purchases.
		cus := map[string]string{"id": f.customer.ID}
		elsewhere := s.newPurchase(t, f.Key, other.ID, f.customer.ID, false)
		done := s.newPurchase(t, f.Key, other.ID, f.customer.ID, true)
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/purchases/calculate", purchaseBody(other.ID, cus, "", false)},
			{"POST", "/v1/purchases", purchaseBody(other.ID, cus, newKey(), false)},
			{"GET", "/v1/purchases/" + elsewhere.ID, nil},
			{"GET", "/v1/purchases?external_id=" + url.QueryEscape(elsewhere.ExternalID), nil},
			{"POST", "/v1/purchases/" + elsewhere.ID + "/confirm", `{}`},
			{"POST", "/v1/purchases/" + elsewhere.ID + "/cancel", `{}`},
			{"POST", "/v1/purchases/" + done.ID + "/refunds", map[string]any{"external_id": newKey()}},
		} {
			r := s.do(t, tc.method, tc.path, bound.Key, tc.body, nil)
			if r.Status != http.StatusForbidden || r.code() != "forbidden" {
				t.Errorf("bound key: %s %s = %d %s, want 403 forbidden", tc.method, tc.path, r.Status, r.Body)
			}
		}
		// A receipt without store_id from a bound key is its store's.
		var own struct {
			StoreID *string `json:"store_id"`
		}
		r = s.do(t, "POST", "/v1/purchases", bound.Key, purchaseBody("", cus, newKey(), false), nil)
		r.want(t, "a bound key's purchase without store_id", http.StatusCreated, "")
		r.decode(t, &own)
		if own.StoreID == nil || *own.StoreID != f.store.ID {
			t.Errorf("a bound key's purchase without store_id has store_id %v, want its key's store %s", own.StoreID, f.store.ID)
		}
		for _, id := range []string{elsewhere.ID, done.ID} {
			var p purchase
			s.do(t, "GET", "/v1/purchases/"+id, f.Key, nil, nil).decode(t, &p)
			if want := map[string]string{elsewhere.ID: "pending", done.ID: "complete"}[id]; p.Status != want {
				t.Errorf("purchase %s after the refused steps is %s, want %s", id, p.Status, want)
			}
		}
	})
}
