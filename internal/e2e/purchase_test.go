package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// redeemProgram lets points pay for a whole receipt and earns nothing, so
// that only redemptions move the balance.
func (s *server) redeemProgram(t *testing.T, key string) {
	t.Helper()
	var p map[string]any
	s.do(t, "GET", "/v1/program", key, nil, nil).decode(t, &p)
	p["tiers"] = []map[string]any{{"name": "Base", "threshold": 0, "accrual_percent": 0, "max_redeem_percent": 100}}
	p["min_line_price"] = 0
	s.do(t, "PUT", "/v1/program", key, p, nil).want(t, "PUT /v1/program", http.StatusOK, "")
}

// redemptionBody is a confirmed one-line receipt of 100.00 paying redeem
// hundredths with points, for the customer with the card.
func redemptionBody(card, ext string, redeem int64) map[string]any {
	b := purchaseBody("", map[string]string{"card": card}, ext, true)
	b["redeem"] = redeem
	return b
}

// TestC1ConcurrentPurchaseRedemptions is RELIABILITY C1 through receipts:
// 200 concurrent confirmed purchases, each redeeming 1 point with the same
// card holding 100 points. Exactly 100 are registered; the others are
// refused and leave nothing behind.
func TestC1ConcurrentPurchaseRedemptions(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		const n, points = 200, 100
		ten := s.tenant(t, "C1 receipts")
		s.redeemProgram(t, ten.Key)
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001", "card": "C1-CARD"})
		s.credit(t, ten.Key, c.ID, points*100)

		exts := make([]string, n)
		history := s.burst(n, func(i int) (string, string, string, any, map[string]string) {
			exts[i] = fmt.Sprintf("c1-%03d", i)
			return "POST", "/v1/purchases", ten.Key, redemptionBody("C1-CARD", exts[i], 100), nil
		})
		var debits []operation
		for _, op := range s.operations(t, ten.Key, c.ID) {
			if op.Type == "redemption" {
				pid := ""
				if op.PurchaseID != nil {
					pid = *op.PurchaseID
				}
				debits = append(debits, operation{ID: pid, Amount: op.Amount, Status: op.Status})
			}
		}
		// API-CORE names two codes for a redemption the balance cannot
		// cover: insufficient_points, or redeem_limit_exceeded because
		// max_redeem is capped by the available balance.
		run := redemptionRun{Accepted: points, History: history, Debits: debits, Amount: -100,
			Available: s.balance(t, ten.Key, c.ID).Available, Refusals: []string{"insufficient_points", "redeem_limit_exceeded"}}
		if bad := checkRedemptions(run); len(bad) > 0 {
			t.Errorf("C1 oracle found %d problems, first few:\n%v", len(bad), bad[:min(len(bad), 5)])
		}
		codes := map[string]int{}
		for i, o := range history {
			if err := checkProblem(o.resp); o.Err == "" && err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			codes[o.Code]++
			if o.Status == http.StatusUnprocessableEntity {
				r := s.do(t, "GET", "/v1/purchases?external_id="+url.QueryEscape(exts[i]), ten.Key, nil, nil)
				if r.Status != http.StatusNotFound {
					t.Errorf("refused receipt %s left a purchase behind: %d %s", exts[i], r.Status, r.Body)
				}
			}
		}
		t.Logf("answers by problem code: %v", codes)
		s.verify(t)
	})
}

// TestI1ConcurrentSamePurchase is RELIABILITY I1 for receipts: 200
// identical registrations under one key make one purchase and one
// redemption, and every client gets the same answer.
func TestI1ConcurrentSamePurchase(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		const n = 200
		ten := s.tenant(t, "I1 receipts")
		s.redeemProgram(t, ten.Key)
		c := s.newCustomer(t, ten.Key, map[string]any{"card": "I1-CARD"})
		s.credit(t, ten.Key, c.ID, 1000)
		key := newKey()
		history := s.burst(n, func(int) (string, string, string, any, map[string]string) {
			return "POST", "/v1/purchases", ten.Key, redemptionBody("I1-CARD", "i1-receipt", 300),
				map[string]string{"Idempotency-Key": key}
		})
		answers := make([]answer, 0, n)
		for i, o := range history {
			if o.Err != "" {
				t.Fatalf("request %d: %s", i, o.Err)
			}
			var body any
			if err := json.Unmarshal(o.resp.Body, &body); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			answers = append(answers, answer{Status: o.Status, Body: body})
		}
		var redemptions []operation
		for _, op := range s.operations(t, ten.Key, c.ID) {
			if op.Type == "redemption" && op.PurchaseID != nil {
				redemptions = append(redemptions, operation{ID: *op.PurchaseID})
			}
		}
		if bad := checkIdentical(answers, redemptions); len(bad) > 0 {
			t.Errorf("I1 oracle: %d problems, first few:\n%v", len(bad), bad[:min(len(bad), 5)])
		}
		if got := s.balance(t, ten.Key, c.ID).Available; got != 700 {
			t.Errorf("balance = %d, want 700 (one redemption of 300)", got)
		}
		s.verify(t)
	})
}

// TestI3PurchaseAndRefundExternalID is RELIABILITY I3 for receipts and
// refunds: the same external_id under new keys, or none, and concurrently,
// never makes a second purchase or refund; another body under it is 409.
func TestI3PurchaseAndRefundExternalID(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "I3 receipts")
		s.redeemProgram(t, ten.Key)
		c := s.newCustomer(t, ten.Key, map[string]any{"card": "I3-CARD"})
		s.credit(t, ten.Key, c.ID, 5000)

		// same resends body under ext with new keys and none, and in a
		// concurrent burst, and returns the one id all answers name.
		same := func(what, path string, body any, status int) string {
			t.Helper()
			first := s.do(t, "POST", path, ten.Key, body, map[string]string{"Idempotency-Key": newKey()})
			first.want(t, what, status, "")
			var v struct {
				ID string `json:"id"`
			}
			first.decode(t, &v)
			for _, key := range []string{newKey(), "", newKey(), ""} {
				var hdr map[string]string
				if key != "" {
					hdr = map[string]string{"Idempotency-Key": key}
				}
				r := s.do(t, "POST", path, ten.Key, body, hdr)
				if r.Status != status || !cmp.Equal(decoded(t, r), decoded(t, first)) {
					t.Errorf("%s again (key %q) = %d %s, want %d %s", what, key, r.Status, r.Body, status, first.Body)
				}
			}
			history := s.burst(40, func(i int) (string, string, string, any, map[string]string) {
				if i%2 == 0 {
					return "POST", path, ten.Key, body, nil
				}
				return "POST", path, ten.Key, body, map[string]string{"Idempotency-Key": newKey()}
			})
			for i, o := range history {
				if o.Status != status || o.OpID != v.ID {
					t.Errorf("%s, concurrent copy %d = %d %q %s (id %q), want %d with %s", what, i, o.Status, o.Code, o.Err, o.OpID, status, v.ID)
				}
			}
			return v.ID
		}
		pid := same("receipt r-1", "/v1/purchases", redemptionBody("I3-CARD", "r-1", 1000), http.StatusCreated)
		for name, body := range map[string]any{
			"other redeem": redemptionBody("I3-CARD", "r-1", 900),
			"unconfirmed":  purchaseBody("", map[string]string{"card": "I3-CARD"}, "r-1", false),
		} {
			for _, key := range []string{newKey(), ""} {
				var hdr map[string]string
				if key != "" {
					hdr = map[string]string{"Idempotency-Key": key}
				}
				r := s.do(t, "POST", "/v1/purchases", ten.Key, body, hdr)
				if r.Status != http.StatusConflict || r.code() != "conflict" {
					t.Errorf("receipt r-1 with %s (key %q) = %d %s, want 409 conflict", name, key, r.Status, r.Body)
				}
			}
		}
		rid := same("refund f-1", "/v1/purchases/"+pid+"/refunds", map[string]any{"external_id": "f-1"}, http.StatusCreated)
		pid2 := s.newPurchase(t, ten.Key, "", c.ID, true).ID
		for name, tc := range map[string]struct {
			path string
			body any
		}{
			"with lines":         {"/v1/purchases/" + pid + "/refunds", map[string]any{"external_id": "f-1", "lines": []map[string]any{{"line": 1, "quantity": 1}}}},
			"on another receipt": {"/v1/purchases/" + pid2 + "/refunds", map[string]any{"external_id": "f-1"}},
		} {
			r := s.do(t, "POST", tc.path, ten.Key, tc.body, nil)
			if r.Status != http.StatusConflict || r.code() != "conflict" {
				t.Errorf("refund f-1 %s = %d %s, want 409 conflict", name, r.Status, r.Body)
			}
		}

		var purchases, refunds int
		for _, op := range s.operations(t, ten.Key, c.ID) {
			switch op.Type {
			case "redemption":
				purchases++
			case "refund":
				refunds++
			}
		}
		if purchases != 1 || refunds != 1 {
			t.Errorf("redemptions %d, refunds %d; want one of each (purchase %s, refund %s)", purchases, refunds, pid, rid)
		}
		if got := s.balance(t, ten.Key, c.ID).Available; got != 5000 {
			t.Errorf("balance = %d, want 5000 (10.00 redeemed, then returned by the refund)", got)
		}
		s.verify(t)
	})
}

// TestI7PurchaseRefusal is RELIABILITY I7 and the API-CORE edge rule for
// receipts: a refused receipt under a key replays its refusal after the
// points arrive; without a key a refused receipt leaves nothing and its
// external_id may be used again.
func TestI7PurchaseRefusal(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "I7 receipts")
		s.redeemProgram(t, ten.Key)
		c := s.newCustomer(t, ten.Key, map[string]any{"card": "I7-CARD"})
		s.credit(t, ten.Key, c.ID, 100)
		k := newKey()
		body := redemptionBody("I7-CARD", "i7-1", 500)
		refused := s.do(t, "POST", "/v1/purchases", ten.Key, body, map[string]string{"Idempotency-Key": k})
		if refused.Status != http.StatusUnprocessableEntity {
			t.Fatalf("receipt redeeming more than the balance = %d %s, want 422", refused.Status, refused.Body)
		}
		plain := s.do(t, "POST", "/v1/purchases", ten.Key, redemptionBody("I7-CARD", "i7-2", 500), nil)
		plain.want(t, "the same refusal without a key", http.StatusUnprocessableEntity, refused.code())

		s.credit(t, ten.Key, c.ID, 1000)
		again := s.do(t, "POST", "/v1/purchases", ten.Key, body, map[string]string{"Idempotency-Key": k})
		if again.Status != refused.Status || !cmp.Equal(decoded(t, again), decoded(t, refused)) {
			t.Errorf("retry under the refused key = %d %s, want the refusal %s", again.Status, again.Body, refused.Body)
		}
		s.do(t, "POST", "/v1/purchases", ten.Key, redemptionBody("I7-CARD", "i7-2", 500), nil).
			want(t, "the refused external_id again, without a key, after the credit", http.StatusCreated, "")
		if got := s.balance(t, ten.Key, c.ID).Available; got != 600 {
			t.Errorf("balance = %d, want 600", got)
		}
		s.verify(t)
	})
}
