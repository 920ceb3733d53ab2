package e2e_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decoded returns the body as a generic JSON value for comparisons.
func decoded(t *testing.T, r response) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
	return v
}

// TestI2SameKeyOtherBody is RELIABILITY I2: a key reused with another body
// is 409 conflict and has no effect.
func TestI2SameKeyOtherBody(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "I2")
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001"})
		key := newKey()
		first := s.adjust(t, ten.Key, c.ID, `{"amount":100,"reason":"I2"}`, key)
		first.want(t, "first request", http.StatusCreated, "")
		for name, body := range map[string]string{
			"other amount": `{"amount":200,"reason":"I2"}`,
			"other reason": `{"amount":100,"reason":"I2 again"}`,
			"debit":        `{"amount":-100,"reason":"I2"}`,
		} {
			r := s.adjust(t, ten.Key, c.ID, body, key)
			if r.Status != http.StatusConflict || r.code() != "conflict" {
				t.Errorf("%s under a used key = %d %s, want 409 conflict", name, r.Status, r.Body)
			}
		}
		// The same key on another customer is another request too.
		c2 := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000002"})
		if r := s.adjust(t, ten.Key, c2.ID, `{"amount":100,"reason":"I2"}`, key); r.Status != http.StatusConflict {
			t.Errorf("same key and body on another customer = %d %s, want 409 conflict", r.Status, r.Body)
		}
		if ops := s.operations(t, ten.Key, c.ID); len(ops) != 1 {
			t.Errorf("operations after the conflicts = %d, want 1", len(ops))
		}
		if ops := s.operations(t, ten.Key, c2.ID); len(ops) != 0 {
			t.Errorf("operations of the other customer = %d, want 0", len(ops))
		}
		if b := s.balance(t, ten.Key, c.ID); b.Available != 100 {
			t.Errorf("balance = %d, want 100", b.Available)
		}
		// The original request under the key still replays.
		again := s.adjust(t, ten.Key, c.ID, `{"amount":100,"reason":"I2"}`, key)
		if again.Status != first.Status || !cmp.Equal(decoded(t, again), decoded(t, first)) {
			t.Errorf("retry of the first request = %d %s, want %d %s", again.Status, again.Body, first.Status, first.Body)
		}
		// So does the same JSON serialised anew: other spacing and key
		// order are the same request.
		again = s.adjust(t, ten.Key, c.ID, "{\n  \"reason\": \"I2\",\n  \"amount\": 100\n}\n", key)
		if again.Status != first.Status || !cmp.Equal(decoded(t, again), decoded(t, first)) {
			t.Errorf("retry with the same JSON reformatted = %d %s, want %d %s", again.Status, again.Body, first.Status, first.Body)
		}
		if ops := s.operations(t, ten.Key, c.ID); len(ops) != 1 {
			t.Errorf("operations after the retries = %d, want 1", len(ops))
		}
		// Keys differing only in case: the last one wins (as encoding/json
		// reads them), so their order is part of the request.
		folded := newKey()
		s.adjust(t, ten.Key, c.ID, `{"amount":100,"Amount":200,"reason":"I2 folded"}`, folded).want(t, "a body with folded keys", http.StatusCreated, "")
		if r := s.adjust(t, ten.Key, c.ID, `{"Amount":200,"amount":100,"reason":"I2 folded"}`, folded); r.Status != http.StatusConflict {
			t.Errorf("the same keys in another order under a used key = %d %s, want 409 conflict", r.Status, r.Body)
		}
		s.verify(t)
	})
}

// TestI3SameExternalID is RELIABILITY I3 for adjustments: the same
// external_id with new keys, or none, returns the first operation and
// never makes a second; the external_id with another body is a conflict.
func TestI3SameExternalID(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "I3")
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001"})
		body := `{"amount":500,"reason":"I3","external_id":"ext-1"}`
		first := s.adjust(t, ten.Key, c.ID, body, newKey())
		first.want(t, "first request", http.StatusCreated, "")
		var op operation
		first.decode(t, &op)

		for _, key := range []string{newKey(), "", newKey(), ""} {
			r := s.adjust(t, ten.Key, c.ID, body, key)
			var got operation
			r.decode(t, &got)
			if r.Status != http.StatusCreated || got.ID != op.ID {
				t.Errorf("same external_id, key %q = %d %s, want 201 with operation %s", key, r.Status, r.Body, op.ID)
			}
		}
		// Concurrent requests with new keys race for the external id.
		history := s.burst(50, func(i int) (string, string, string, any, map[string]string) {
			hdr := map[string]string{"Idempotency-Key": newKey()}
			if i%2 == 1 {
				hdr = nil
			}
			return "POST", "/v1/customers/" + c.ID + "/adjustments", ten.Key,
				`{"amount":700,"reason":"I3 race","external_id":"ext-race"}`, hdr
		})
		raceOp := ""
		for i, o := range history {
			if o.Status != http.StatusCreated || o.OpID == "" || (raceOp != "" && o.OpID != raceOp) {
				t.Errorf("racing request %d = %d %q %s, want 201 with one operation for all", i, o.Status, o.Code, o.Err)
			}
			if raceOp == "" {
				raceOp = o.OpID
			}
		}

		for _, key := range []string{newKey(), ""} {
			for name, other := range map[string]string{
				"other amount":   `{"amount":600,"reason":"I3","external_id":"ext-1"}`,
				"other reason":   `{"amount":500,"reason":"changed","external_id":"ext-1"}`,
				"debit":          `{"amount":-500,"reason":"I3","external_id":"ext-1"}`,
				"other customer": "",
			} {
				path := c.ID
				if other == "" {
					other = body
					path = s.newCustomer(t, ten.Key, map[string]any{}).ID
				}
				r := s.adjust(t, ten.Key, path, other, key)
				if r.Status != http.StatusConflict || r.code() != "conflict" {
					t.Errorf("%s under external_id ext-1 (key %q) = %d %s, want 409 conflict", name, key, r.Status, r.Body)
				}
			}
		}
		ops := s.operations(t, ten.Key, c.ID)
		if len(ops) != 2 {
			t.Errorf("operations = %v, want two (ext-1 and ext-race)", ops)
		}
		if b := s.balance(t, ten.Key, c.ID); b.Available != 1200 {
			t.Errorf("balance = %d, want 1200 (500 + 700, once each)", b.Available)
		}
		s.verify(t)
	})
}

// TestI4KeyScopes is RELIABILITY I4: one Idempotency-Key under two tenants,
// and on two endpoints of one tenant, names independent requests.
func TestI4KeyScopes(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		a, b := s.tenant(t, "I4 A"), s.tenant(t, "I4 B")
		key := newKey()
		body := `{"phone":"+79120000001","first_name":"Same"}`
		hdr := map[string]string{"Idempotency-Key": key}

		rb := s.do(t, "POST", "/v1/customers", b.Key, body, hdr)
		rb.want(t, "tenant B creates a customer under the key", http.StatusCreated, "")
		ra := s.do(t, "POST", "/v1/customers", a.Key, body, hdr)
		ra.want(t, "tenant A sends the identical request under the same key", http.StatusCreated, "")
		var ca, cb customer
		ra.decode(t, &ca)
		rb.decode(t, &cb)
		if ca.ID == cb.ID || ra.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("tenant A got %s (replayed %q), want a customer of its own, not B's %s", ra.Body, ra.Header.Get("Idempotent-Replayed"), rb.Body)
		}
		if r := s.do(t, "GET", "/v1/customers/"+ca.ID, a.Key, nil, nil); r.Status != http.StatusOK {
			t.Errorf("GET A's customer with A's key = %d, want 200", r.Status)
		}
		if r := s.do(t, "GET", "/v1/customers/"+ca.ID, b.Key, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET A's customer with B's key = %d, want 404", r.Status)
		}
		// Each tenant's retry replays its own answer.
		for _, tc := range []struct {
			name  string
			key   string
			first response
		}{{"A", a.Key, ra}, {"B", b.Key, rb}} {
			r := s.do(t, "POST", "/v1/customers", tc.key, body, hdr)
			if r.Status != http.StatusCreated || !cmp.Equal(decoded(t, r), decoded(t, tc.first)) {
				t.Errorf("tenant %s retry = %d %s, want its first answer %s", tc.name, r.Status, r.Body, tc.first.Body)
			}
		}

		// The same key on the adjustment endpoint of tenant A is a new request.
		adj := s.adjust(t, a.Key, ca.ID, `{"amount":300}`, key)
		adj.want(t, "adjustment under the key used for POST /v1/customers", http.StatusCreated, "")
		var op operation
		adj.decode(t, &op)
		if op.CustomerID != ca.ID || op.Amount != 300 {
			t.Errorf("adjustment = %s, want +300 on %s", adj.Body, ca.ID)
		}
		// And the other way round: a key first used for an adjustment.
		key2 := newKey()
		s.adjust(t, a.Key, ca.ID, `{"amount":400}`, key2).want(t, "adjustment under a fresh key", http.StatusCreated, "")
		c2 := s.do(t, "POST", "/v1/customers", a.Key, `{"phone":"+79120000002"}`, map[string]string{"Idempotency-Key": key2})
		c2.want(t, "POST /v1/customers under the adjustment's key", http.StatusCreated, "")
		var cus2 customer
		c2.decode(t, &cus2)
		if cus2.ID == "" || cus2.ID == ca.ID {
			t.Errorf("POST /v1/customers under the adjustment's key = %s, want a new customer", c2.Body)
		}
		if got := s.balance(t, a.Key, ca.ID).Available; got != 700 {
			t.Errorf("A's balance = %d, want 700", got)
		}
		if ops := s.operations(t, b.Key, cb.ID); len(ops) != 0 {
			t.Errorf("B's customer has operations %v, want none", ops)
		}
		s.verify(t)
	})
}

// TestI7RefusalReplay is RELIABILITY I7: a business refusal is stored and
// replayed under its key even after the points arrive; a new key makes a
// new attempt; a 400 is not stored, so the corrected request may reuse
// the key.
func TestI7RefusalReplay(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "I7")
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001"})
		k := newKey()
		debit := `{"amount":-500,"reason":"I7"}`
		refused := s.adjust(t, ten.Key, c.ID, debit, k)
		refused.want(t, "debit without points", http.StatusUnprocessableEntity, "insufficient_points")

		s.credit(t, ten.Key, c.ID, 1000)
		again := s.adjust(t, ten.Key, c.ID, debit, k)
		if again.Status != refused.Status || !cmp.Equal(decoded(t, again), decoded(t, refused)) {
			t.Errorf("retry under the refused key after the credit = %d %s, want the refusal %d %s",
				again.Status, again.Body, refused.Status, refused.Body)
		}
		if got := s.balance(t, ten.Key, c.ID).Available; got != 1000 {
			t.Errorf("balance after the replayed refusal = %d, want 1000", got)
		}
		s.adjust(t, ten.Key, c.ID, debit, newKey()).want(t, "the debit under a new key", http.StatusCreated, "")
		if got := s.balance(t, ten.Key, c.ID).Available; got != 500 {
			t.Errorf("balance after the new attempt = %d, want 500", got)
		}

		// 400s are not stored: the corrected request reuses the key.
		for name, bad := range map[string]string{
			"zero amount":   `{"amount":0,"reason":"I7"}`,
			"unknown field": `{"amount":100,"reason":"I7","bonus":1}`,
			"not JSON":      `{"amount":`,
		} {
			k2 := newKey()
			s.adjust(t, ten.Key, c.ID, bad, k2).want(t, name, http.StatusBadRequest, "invalid_request")
			r := s.adjust(t, ten.Key, c.ID, `{"amount":100,"reason":"I7 corrected"}`, k2)
			r.want(t, "corrected request after "+name+" under the same key", http.StatusCreated, "")
		}
		if got := s.balance(t, ten.Key, c.ID).Available; got != 800 {
			t.Errorf("final balance = %d, want 800", got)
		}
		s.verify(t)
	})
}
