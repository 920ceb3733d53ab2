package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/kopilka"
)

var pathParam = regexp.MustCompile(`\{([^}]*)\}`)

// idKinds maps the collection segment before an {id} to the prefix of the
// ids it holds. A route with a parameter after any other segment fails the
// tests that walk the route table until it is taught here.
var idKinds = map[string]string{
	"customers":  "cus",
	"stores":     "sto",
	"api-keys":   "key",
	"purchases":  "pur",
	"promotions": "prm",
	"offers":     "ofr",
	"cards":      "card", // {number}: card numbers are not ids, and have no prefix
	"imports":    "imp",
}

// idKind returns the id prefix a route's {id} (or a card's {number})
// takes, or "" when the route has no parameter, and false when it has
// one the tests cannot fill.
func idKind(pattern string) (string, bool) {
	m := pathParam.FindAllStringSubmatchIndex(pattern, -1)
	if len(m) == 0 {
		return "", true
	}
	if name := pattern[m[0][2]:m[0][3]]; name != "id" && name != "number" {
		return "", false
	}
	for _, more := range m[1:] {
		if _, ok := fixedParams[pattern[more[2]:more[3]]]; !ok {
			return "", false
		}
	}
	segs := strings.Split(strings.TrimSuffix(pattern[:m[0][0]], "/"), "/")
	kind, ok := idKinds[segs[len(segs)-1]]
	return kind, ok
}

// fixedParams are path parameters after the {id} that take a value of a
// closed set, with the value the tests use.
var fixedParams = map[string]string{"kind": "marketing"}

// fill puts id into the route's {id} and the fixed values into the
// parameters after it.
func fill(pattern, id string) string {
	for name, v := range fixedParams {
		pattern = strings.ReplaceAll(pattern, "{"+name+"}", v)
	}
	return pathParam.ReplaceAllLiteralString(pattern, url.PathEscape(id))
}

// idBodies are valid bodies for the routes with an {id} that take one, so
// that only the tenancy check can refuse them.
var idBodies = map[string]string{
	"updateCustomer":   `{"first_name":"Mallory","tags":["x"]}`,
	"createAdjustment": `{"amount":100,"reason":"bola"}`,
	"confirmPurchase":  `{}`,
	"cancelPurchase":   `{}`,
	"createRefund":     `{"external_id":"bola-refund"}`,
	"issueCard":        `{"kind":"electronic"}`,
	"blockCard":        `{}`,
	"unblockCard":      `{}`,
	"replaceCard":      `{}`,
	"giveConsent":      `{"kind":"marketing","source":"pos"}`,
	"withdrawConsent":  `{"source":"pos"}`,
}

// neighbours returns ids that differ from id in the last character by ±1
// (RELIABILITY S1's "ids ±1"); the alphabet is NewID's, or the digits for
// a card number.
func neighbours(id string) []string {
	alphabet := "0123456789abcdefghjkmnpqrstvwxyz"
	if !strings.Contains(id, "_") {
		alphabet = "0123456789"
	}
	i := strings.IndexByte(alphabet, id[len(id)-1])
	if i < 0 {
		return nil
	}
	var out []string
	for _, d := range []int{-1, 1} {
		j := (i + d + len(alphabet)) % len(alphabet)
		out = append(out, id[:len(id)-1]+string(alphabet[j]))
	}
	return out
}

// tenantData is what a tenant owns in the S1 test.
type tenantData struct {
	tenant
	customer customer
	store    store
	keys     []string // ids of its API keys
	opID     string
	pending  purchase
	complete purchase
	promo    string // promotion id
	offer    string // personal offer id
	phone    string
	card     string
	rangeID  string // its card range
	issued   string // a card number issued from the range
	importID string // a finished import job
}

// snapshot reads everything the tenant can see of its own data.
func (s *server) snapshot(t *testing.T, d tenantData) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, p := range []string{
		"/v1/customers/" + d.customer.ID,
		"/v1/customers/" + d.customer.ID + "/balance",
		"/v1/customers/" + d.customer.ID + "/operations",
		"/v1/customers/" + d.customer.ID + "/history",
		"/v1/stores", "/v1/stores/" + d.store.ID, "/v1/api-keys", "/v1/program",
		"/v1/purchases/" + d.pending.ID, "/v1/purchases/" + d.complete.ID,
		"/v1/purchases?external_id=" + d.complete.ExternalID,
		"/v1/promotions", "/v1/promotions/" + d.promo, "/v1/offers", "/v1/offers/" + d.offer,
		"/v1/settings", "/v1/card-ranges", "/v1/cards/" + d.card, "/v1/cards/" + d.issued,
		"/v1/imports/" + d.importID,
	} {
		r := s.do(t, "GET", p, d.Key, nil, nil)
		r.want(t, "snapshot GET "+p, http.StatusOK, "")
		out[p] = decoded(t, r)
	}
	return out
}

// TestS1ObjectLevelAuthorization is RELIABILITY S1 (BOLA): tenant A's
// admin key, on every route of the table, with tenant B's ids and random
// well-formed ones, gets 404 and none of B's data, and B's data does not
// change. The same requests with A's own ids succeed, so the 404s come
// from the tenancy check and not from malformed requests.
func TestS1ObjectLevelAuthorization(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		setup := func(name, phone, card, prefix string) tenantData {
			d := tenantData{tenant: s.tenant(t, name), phone: phone, card: card}
			d.customer = s.newCustomer(t, d.Key, map[string]any{"phone": phone, "card": card, "first_name": name + "-first"})
			d.rangeID = s.newRange(t, d.Key, map[string]any{"prefix": prefix, "start": 1, "width": 8, "kind": "electronic"})
			d.issued = s.issueCard(t, d.Key, d.customer.ID, `{"kind":"electronic"}`).Number
			d.store = s.newStore(t, d.Key, name+" store")
			d.importID = s.newImport(t, d.Key, "external_id,first_name\n"+name+"-ext,"+name+"\n").ID
			k := s.newAPIKey(t, d.Key, map[string]any{"name": name + " till", "scopes": []string{"pos"}, "store_id": d.store.ID})
			d.opID = s.credit(t, d.Key, d.customer.ID, 700).ID
			d.pending = s.newPurchase(t, d.Key, d.store.ID, d.customer.ID, false)
			d.complete = s.newPurchase(t, d.Key, d.store.ID, d.customer.ID, true)
			d.promo = s.newRule(t, d.Key, "prm", name+" promo")
			d.offer = s.newRule(t, d.Key, "ofr", name+" offer")
			s.do(t, "PATCH", "/v1/customers/"+d.customer.ID, d.Key, `{"last_name":"Changed"}`, nil).want(t, "PATCH", http.StatusOK, "")
			var keys struct {
				Items []apiKey `json:"items"`
			}
			s.do(t, "GET", "/v1/api-keys", d.Key, nil, nil).decode(t, &keys)
			for _, it := range keys.Items {
				d.keys = append(d.keys, it.ID)
			}
			if len(d.keys) != 2 || (d.keys[0] != k.ID && d.keys[1] != k.ID) {
				t.Fatalf("tenant %s keys = %v, want the owner key and %s", name, d.keys, k.ID)
			}
			return d
		}
		// Distinct prefixes: A must own no card of B's numbers, so that a
		// 200 could only come from B's card.
		a := setup("Alice", "+79120000001", "CARD-A-1", "11")
		b := setup("Bobby", "+79120000002", "CARD-B-1", "22")
		secrets := []string{b.ID, b.Key, b.customer.ID, b.store.ID, b.opID, b.phone, b.card, "Bobby", b.keys[0], b.keys[1],
			b.pending.ID, b.pending.ExternalID, b.complete.ID, b.complete.ExternalID, b.promo, b.offer, b.rangeID, b.issued,
			b.importID, "Bobby-ext"}
		before := s.snapshot(t, b)

		// leaks reports B's data in an answer to A, once what A itself sent
		// (the path and the echoed values) is taken out.
		leaks := func(r response, sent ...string) []string {
			body := string(r.Body)
			for _, x := range sent {
				body = strings.ReplaceAll(body, x, "")
			}
			var found []string
			for _, x := range secrets {
				if strings.Contains(body, x) {
					found = append(found, x)
				}
			}
			return found
		}
		// Negative control of the leak detector.
		if l := leaks(response{Body: []byte(`{"id":"` + b.customer.ID + `"}`)}); len(l) != 1 {
			t.Errorf("leaks(an answer holding B's customer id) = %q, want it found", l)
		}
		bIDs := map[string][]string{
			"cus":  {b.customer.ID, b.phone, b.card},
			"sto":  {b.store.ID},
			"key":  b.keys,
			"pur":  {b.pending.ID, b.complete.ID, b.pending.ExternalID},
			"prm":  {b.promo},
			"ofr":  {b.offer},
			"card": {b.issued, b.card},
			"imp":  {b.importID},
		}
		// ownID returns an object of A's that the route may act on.
		ownID := func(kind, route string) string {
			switch kind {
			case "cus":
				if route == "deleteCustomer" || route == "mergeCustomer" {
					// A's customer serves the other routes; these two end
					// a customer.
					return s.newCustomer(t, a.Key, map[string]any{"first_name": "Alice"}).ID
				}
				if route == "withdrawConsent" { // a consent in force to withdraw
					s.do(t, "POST", "/v1/customers/"+a.customer.ID+"/consents", a.Key, idBodies["giveConsent"], nil).
						want(t, "give A's customer a consent", http.StatusCreated, "")
				}
				return a.customer.ID
			case "sto":
				return a.store.ID
			case "key":
				return s.newAPIKey(t, a.Key, map[string]any{"scopes": []string{"pos"}}).ID
			case "pur":
				return s.newPurchase(t, a.Key, a.store.ID, a.customer.ID, route == "createRefund").ID
			case "prm", "ofr":
				return s.newRule(t, a.Key, kind, "Alice rule")
			case "card":
				return s.issueCard(t, a.Key, a.customer.ID, `{"kind":"electronic"}`).Number
			case "imp":
				return s.newImport(t, a.Key, "external_id\nAlice-2\n").ID
			}
			return ""
		}

		covered := 0
		for _, rt := range api.Routes() {
			route := rt.Method + " " + rt.Pattern
			kind, ok := idKind(rt.Pattern)
			if !ok {
				t.Errorf("route %s: S1 does not know which ids fill its path parameters; teach idKinds", route)
				continue
			}
			if kind == "" {
				if probeNoID(t, s, rt, a, b, leaks) {
					covered++
				}
				continue
			}
			body, hasBody := idBodies[rt.Name]
			if rt.Name == "mergeCustomer" {
				// A valid from of A's own, so that only the path's tenancy
				// can refuse; B's customer as from is probed below.
				body, hasBody = mustJSON(map[string]string{"from": s.newCustomer(t, a.Key, map[string]any{"first_name": "Alice"}).ID}), true
			}
			if !hasBody && rt.Method != "GET" && rt.Method != "DELETE" {
				t.Errorf("route %s: S1 has no valid body for it; teach idBodies", route)
				continue
			}
			var ids []string
			ids = append(ids, bIDs[kind]...)
			for _, id := range bIDs[kind] {
				if kopilka.ValidID(kind, id) || kind == "card" && id == b.issued {
					ids = append(ids, neighbours(id)...)
				}
			}
			ids = append(ids, kopilka.NewID(kind), kopilka.NewID(kind), b.opID,
				"x", strings.Repeat("a", 300), kind+"_' OR '1'='1", strings.ToUpper(bIDs[kind][0]), bIDs[kind][0]+" ")
			for _, id := range ids {
				var sendBody any
				if hasBody {
					sendBody = body
				}
				path := fill(rt.Pattern, id)
				r := s.do(t, rt.Method, path, a.Key, sendBody, nil)
				if r.Status != http.StatusNotFound {
					t.Errorf("A: %s %s = %d %s, want 404", rt.Method, path, r.Status, r.Body)
				}
				raw, _ := url.PathUnescape(path) // the problem's instance is the decoded path
				if l := leaks(r, path, raw); len(l) > 0 {
					t.Errorf("A: %s %s answer %s holds B's %q", rt.Method, path, r.Body, l)
				}
			}
			// Positive control: the same request on A's own object works.
			own := ownID(kind, rt.Name)
			if own == "" {
				t.Errorf("route %s: S1 has no object of tenant A for the positive control; teach ownID", route)
				continue
			}
			var sendBody any
			if hasBody {
				sendBody = body
			}
			if r := s.do(t, rt.Method, fill(rt.Pattern, own), a.Key, sendBody, nil); r.Status >= 300 {
				t.Errorf("A: %s on its own %s = %d %s, want success", route, own, r.Status, r.Body)
			}
			covered++
		}
		if n := len(api.Routes()); covered != n {
			t.Errorf("S1 covered %d of %d routes, want all", covered, n)
		}

		// B's customer as the one to merge into A's is nobody to A, and A's
		// merge changes nothing of B's.
		for _, from := range []string{b.customer.ID, neighbours(b.customer.ID)[0]} {
			path := "/v1/customers/" + a.customer.ID + "/merge"
			r := s.do(t, "POST", path, a.Key, mustJSON(map[string]string{"from": from}), nil)
			if r.Status != http.StatusNotFound || r.code() != "customer_not_found" {
				t.Errorf("A: POST %s from B's %s = %d %s, want 404 customer_not_found", path, from, r.Status, r.Body)
			}
			if l := leaks(r, path, from); len(l) > 0 {
				t.Errorf("A: POST %s from B's %s answer %s holds B's %q", path, from, r.Body, l)
			}
		}

		// B's operation as a page cursor on A's own customer shows nothing.
		cursor := "/v1/customers/" + a.customer.ID + "/operations?cursor=" + b.opID
		if r := s.do(t, "GET", cursor, a.Key, nil, nil); (r.Status != http.StatusOK && r.Status != http.StatusBadRequest) || len(leaks(r, b.opID)) > 0 {
			t.Errorf("A: GET %s = %d %s, want 200 or 400 without B's data", cursor, r.Status, r.Body)
		}

		// B's purchase external id is free in A: a 409 would reveal B's purchase.
		r := s.do(t, "POST", "/v1/purchases", a.Key, purchaseBody(a.store.ID, map[string]string{"id": a.customer.ID}, b.complete.ExternalID, false), nil)
		var twinP purchase
		r.decode(t, &twinP)
		if r.Status != http.StatusCreated || twinP.ID == b.complete.ID {
			t.Errorf("A registers B's purchase external id = %d %s, want 201 and a purchase of A's own", r.Status, r.Body)
		}

		// A may enrol B's phone and card: a 409 would reveal B's customer.
		r = s.do(t, "POST", "/v1/customers", a.Key, map[string]any{"phone": b.phone, "card": b.card}, nil)
		var twin customer
		r.decode(t, &twin)
		if r.Status != http.StatusCreated || twin.ID == b.customer.ID {
			t.Errorf("A enrols B's phone and card = %d %s, want 201 and a customer of A's own", r.Status, r.Body)
		}

		if d := cmp.Diff(before, s.snapshot(t, b)); d != "" {
			t.Errorf("tenant B's data changed while A probed it (-before +after):\n%s", d)
		}
		if got := s.balance(t, b.Key, b.customer.ID).Available; got != 700 {
			t.Errorf("B's balance = %d, want 700", got)
		}
		s.verify(t)
	})
}

// probeNoID checks a route without path parameters with tenant A's key:
// B's ids in the query or body find nothing, and the answer holds none of
// B's data. It reports false when the route has no probe yet.
// probe is one request of tenant A in the S1 test.
type probe struct {
	path   string
	body   string
	status []int    // acceptable statuses
	echo   []string // values A sent that the answer may repeat
}

// purchaseProbes try B's customer and store in a receipt of A's
// (registered under ext, or calculated when ext is "").
func purchaseProbes(a, b tenantData, ext string) []probe {
	path := "/v1/purchases/calculate"
	if ext != "" {
		path = "/v1/purchases"
	}
	var ps []probe
	for _, ref := range []map[string]string{{"id": b.customer.ID}, {"phone": b.phone}, {"card": b.card}} {
		var echo string
		for _, v := range ref {
			echo = v
		}
		ps = append(ps, probe{path: path, body: mustJSON(purchaseBody(a.store.ID, ref, ext, false)), status: []int{404}, echo: []string{echo}})
	}
	ps = append(ps, probe{path: path, body: mustJSON(purchaseBody(b.store.ID, map[string]string{"id": a.customer.ID}, ext, false)),
		status: []int{400, 404}, echo: []string{b.store.ID}})
	return ps
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func probeNoID(t *testing.T, s *server, rt api.Route, a, b tenantData, leaks func(response, ...string) []string) bool {
	t.Helper()
	var program, settings string
	switch rt.Name {
	case "putProgram":
		program = string(s.do(t, "GET", "/v1/program", a.Key, nil, nil).Body)
	case "putSettings":
		settings = string(s.do(t, "GET", "/v1/settings", a.Key, nil, nil).Body)
	}
	probes := map[string][]probe{
		"getProgram": {{path: "/v1/program", status: []int{200}}},
		"putProgram": {{path: "/v1/program", body: program, status: []int{200}}},
		"createAPIKey": {{path: "/v1/api-keys", body: `{"scopes":["pos"],"store_id":"` + b.store.ID + `"}`,
			status: []int{400, 404}, echo: []string{b.store.ID}}},
		"listAPIKeys": {{path: "/v1/api-keys", status: []int{200}}},
		"createStore": {{path: "/v1/stores", body: `{"name":"Alice store 2"}`, status: []int{201}}},
		"listStores":  {{path: "/v1/stores", status: []int{200}}},
		"createCustomer": {{path: "/v1/customers", body: `{"phone":"+79120000009","first_name":"Carol"}`,
			status: []int{201}}},
		"calculatePurchase": purchaseProbes(a, b, ""),
		"createPurchase":    purchaseProbes(a, b, newKey()),
		"findPurchase": {
			{path: "/v1/purchases?external_id=" + url.QueryEscape(b.complete.ExternalID), status: []int{404}, echo: []string{b.complete.ExternalID}},
			{path: "/v1/purchases?external_id=" + url.QueryEscape(b.pending.ID), status: []int{404}, echo: []string{b.pending.ID}},
		},
		"createPromotion": {{path: "/v1/promotions", body: ruleBody("prm", "Alice promo 2"), status: []int{201}},
			{path: "/v1/promotions", body: `{"name":"x","starts_at":"2026-01-01T00:00:00Z","multiplier":2,"store_ids":["` + b.store.ID + `"]}`,
				status: []int{400}, echo: []string{b.store.ID}}},
		"listPromotions": {{path: "/v1/promotions", status: []int{200}}},
		"createOffer":    {{path: "/v1/offers", body: ruleBody("ofr", "Alice offer 2"), status: []int{201}}},
		"listOffers":     {{path: "/v1/offers", status: []int{200}}},
		"getSettings":    {{path: "/v1/settings", status: []int{200}}},
		"putSettings":    {{path: "/v1/settings", body: settings, status: []int{200}}},
		// B's range is no reason to refuse A the same numbers (a 409 would
		// reveal it); kind plastic keeps A's electronic cards coming from
		// A's own range.
		"createCardRange": {{path: "/v1/card-ranges", body: `{"prefix":"22","start":500,"width":8,"kind":"plastic"}`, status: []int{201}}},
		"listCardRanges":  {{path: "/v1/card-ranges", status: []int{200}}},
		// A names B's customer by its id as an external id: imports match
		// cus_… ids of the importing tenant only, so A gets a customer of
		// its own (whose external id its exports then echo).
		"createImport": {{path: "/v1/imports?format=csv", body: "external_id\n" + b.customer.ID + "\n", status: []int{202},
			echo: []string{b.customer.ID}}},
		"exportCustomers":  {{path: "/v1/exports/customers", status: []int{200}, echo: []string{b.customer.ID}}},
		"exportBalances":   {{path: "/v1/exports/balances", status: []int{200}, echo: []string{b.customer.ID}}},
		"exportOperations": {{path: "/v1/exports/operations", status: []int{200}, echo: []string{b.customer.ID}}},
		// A searches by B's phone and card, and lists everything: only
		// A's own customers come back (leaks catches B's).
		"searchCustomers": {
			{path: "/v1/customers/search?phone=" + url.QueryEscape(b.phone), status: []int{200}},
			{path: "/v1/customers/search?card=" + url.QueryEscape(b.card), status: []int{200}},
			{path: "/v1/customers/search?limit=200", status: []int{200}},
		},
		"findCustomer": {
			{path: "/v1/customers?id=" + b.customer.ID, status: []int{404}, echo: []string{b.customer.ID}},
			{path: "/v1/customers?phone=" + url.QueryEscape(b.phone), status: []int{404}, echo: []string{b.phone}},
			{path: "/v1/customers?phone=89120000002", status: []int{404}},
			{path: "/v1/customers?card=" + b.card, status: []int{404}, echo: []string{b.card}},
		},
	}
	ps, ok := probes[rt.Name]
	if !ok {
		t.Errorf("route %s %s: S1 has no probe for it; teach probeNoID", rt.Method, rt.Pattern)
		return false
	}
	for _, p := range ps {
		var body any
		if p.body != "" {
			body = p.body
		}
		r := s.do(t, rt.Method, p.path, a.Key, body, nil)
		if !slices.Contains(p.status, r.Status) {
			t.Errorf("A: %s %s = %d %s, want one of %v", rt.Method, p.path, r.Status, r.Body, p.status)
		}
		u, _ := url.Parse(p.path)
		if l := leaks(r, append(p.echo, u.Path, u.RawQuery)...); len(l) > 0 {
			t.Errorf("A: %s %s answer %s holds B's %q", rt.Method, p.path, r.Body, l)
		}
	}
	return true
}
