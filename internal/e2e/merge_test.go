package e2e_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestMergeAndDelete drives a merge and two deletions through the HTTP
// API and the CLI as an operator would: the merged customer's id, phone
// and card find the survivor, the balance is the sum, the history shows
// both customers and the merge, a retried merge replays, the deleted
// customer is gone for good, and verify passes at every step.
func TestMergeAndDelete(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "Merge")
		a := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001", "first_name": "Анна", "card": "A-0001"})
		b := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000002", "last_name": "Петрова", "card": "B-0001"})
		s.credit(t, ten.Key, a.ID, 1500)
		s.credit(t, ten.Key, b.ID, 2500)
		s.newPurchase(t, ten.Key, "", b.ID, true)
		pending := s.newPurchase(t, ten.Key, "", b.ID, false)
		ba, bb := s.balance(t, ten.Key, a.ID), s.balance(t, ten.Key, b.ID)

		merge := func(key string) response {
			return s.do(t, "POST", "/v1/customers/"+a.ID+"/merge", ten.Key, map[string]string{"from": b.ID},
				map[string]string{"Idempotency-Key": key})
		}
		r := merge(newKey())
		r.want(t, "merge with a pending purchase", http.StatusConflict, "conflict")
		if !strings.Contains(string(r.Body), pending.ID) {
			t.Errorf("merge refusal %s, want it to name %s", r.Body, pending.ID)
		}
		s.do(t, "POST", "/v1/purchases/"+pending.ID+"/cancel", ten.Key, nil, nil).want(t, "cancel", http.StatusOK, "")

		key := newKey()
		r = merge(key)
		r.want(t, "merge", http.StatusOK, "")
		var survivor struct {
			customer
			LastName   string  `json:"last_name"`
			ExtraPhone *string `json:"extra_phone"`
		}
		r.decode(t, &survivor)
		if survivor.ID != a.ID || survivor.Phone != "+79120000001" || survivor.ExtraPhone == nil ||
			*survivor.ExtraPhone != "+79120000002" || survivor.LastName != "Петрова" || len(survivor.Cards) != 2 {
			t.Errorf("merge answered %s, want %s with both cards, b's phone as extra phone and b's last name", r.Body, a.ID)
		}
		again := merge(key)
		again.want(t, "merge retried", http.StatusOK, "")
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(r.Body) {
			t.Errorf("merge retried = %s (replayed %q), want the first answer replayed", again.Body, again.Header.Get("Idempotent-Replayed"))
		}
		merge(newKey()).want(t, "merge again under a new key", http.StatusConflict, "conflict")
		s.verify(t)

		for _, path := range []string{"/v1/customers/" + b.ID, "/v1/customers?phone=%2B79120000002", "/v1/customers?card=B-0001", "/v1/customers?id=" + b.ID} {
			r := s.do(t, "GET", path, ten.Key, nil, nil)
			var c customer
			r.decode(t, &c)
			if r.Status != http.StatusOK || c.ID != a.ID {
				t.Errorf("GET %s = %d %s, want the survivor %s", path, r.Status, r.Body, a.ID)
			}
		}
		// Search finds the survivor only: the merged customer is no
		// record of its own any more.
		search := func(query string) []string {
			var page struct {
				Items []customer `json:"items"`
			}
			s.do(t, "GET", "/v1/customers/search?"+query, ten.Key, nil, nil).decode(t, &page)
			var ids []string
			for _, c := range page.Items {
				ids = append(ids, c.ID)
			}
			return ids
		}
		for _, q := range []string{"limit=200", "card=B-0001", "name=%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2%D0%B0", "phone=%2B79120000002"} {
			if ids := search(q); slices.Contains(ids, b.ID) {
				t.Errorf("search ?%s after the merge = %v, want %s (merged into %s) left out", q, ids, b.ID, a.ID)
			}
		}
		if ids := search("card=B-0001"); !slices.Equal(ids, []string{a.ID}) {
			t.Errorf("search ?card=B-0001 after the merge = %v, want the survivor %s", ids, a.ID)
		}
		if got, want := s.balance(t, ten.Key, a.ID), (balance{ba.Available + bb.Available, ba.Pending + bb.Pending}); got != want {
			t.Errorf("survivor balance = %+v, want the sum %+v", got, want)
		}
		types := map[string]int{}
		for _, op := range s.operations(t, ten.Key, a.ID) {
			types[op.Type]++
		}
		// The default programme accrues nothing: the two credits and the merge.
		if types["merge"] != 1 || types["adjustment"] != 2 || len(types) != 2 {
			t.Errorf("survivor history types = %v, want 1 merge and 2 adjustments (a's and b's)", types)
		}
		// A sale with b's card goes to the survivor.
		s.do(t, "POST", "/v1/purchases", ten.Key, purchaseBody("", map[string]string{"card": "B-0001"}, newKey(), true), nil).
			want(t, "a sale by the merged card", http.StatusCreated, "")

		// Deletion: the points are forfeited, the data gone, the id not found.
		s.do(t, "DELETE", "/v1/customers/"+a.ID, ten.Key, nil, nil).want(t, "delete", http.StatusNoContent, "")
		s.do(t, "DELETE", "/v1/customers/"+a.ID, ten.Key, nil, nil).want(t, "delete again", http.StatusNoContent, "")
		for _, path := range []string{"/v1/customers/" + a.ID, "/v1/customers/" + b.ID, "/v1/customers/" + a.ID + "/balance", "/v1/customers/" + a.ID + "/operations"} {
			s.do(t, "GET", path, ten.Key, nil, nil).want(t, "GET "+path+" after deletion", http.StatusNotFound, "not_found")
		}
		for _, q := range []string{"phone=%2B79120000001", "phone=%2B79120000002", "card=A-0001", "card=B-0001"} {
			s.do(t, "GET", "/v1/customers?"+q, ten.Key, nil, nil).want(t, "find "+q+" after deletion", http.StatusNotFound, "customer_not_found")
		}
		var view struct {
			HolderDeleted  bool   `json:"holder_deleted"`
			HolderLastName string `json:"holder_last_name"`
			Available      int64  `json:"available"`
		}
		s.do(t, "GET", "/v1/cards/A-0001", ten.Key, nil, nil).decode(t, &view)
		if !view.HolderDeleted || view.HolderLastName != "" || view.Available != 0 {
			t.Errorf("GET /v1/cards/A-0001 after the deletion = %+v, want the holder deleted, no name, no points", view)
		}
		for _, q := range []string{"limit=200", "card=A-0001", "card=B-0001"} {
			if ids := search(q); len(ids) != 0 {
				t.Errorf("search ?%s after the deletion = %v, want nobody", q, ids)
			}
		}
		s.verify(t)
		db := s.openDB(t)
		var names string
		q := "SELECT first_name || last_name || extra_phone || COALESCE(phone, '') FROM customers WHERE tenant_id = " + s.ph(1) + " AND id = " + s.ph(2)
		for _, id := range []string{a.ID, b.ID} {
			if err := db.QueryRow(q, ten.ID, id).Scan(&names); err != nil || names != "" {
				t.Errorf("customer row %s after deletion holds %q (%v), want nothing personal", id, names, err)
			}
		}

		// The CLI deletes too, and says so.
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001", "first_name": "Вера"})
		s.credit(t, ten.Key, c.ID, 700)
		out, err := runCLI("customer", "delete", c.ID, "--tenant", ten.ID, "--db", s.db)
		var printed map[string]any
		if err != nil || json.Unmarshal([]byte(out), &printed) != nil || printed["customer_id"] != c.ID || printed["deleted"] != true {
			t.Errorf("customer delete = %v, printed %q; want a JSON object naming %s as deleted", err, out, c.ID)
		}
		s.do(t, "GET", "/v1/customers/"+c.ID, ten.Key, nil, nil).want(t, "GET after CLI deletion", http.StatusNotFound, "not_found")
		// Any error but a usage error exits 1 (cmd/kopilka).
		if _, err := runCLI("customer", "delete", "cus_nope", "--tenant", ten.ID, "--db", s.db); err == nil || exitCode(err) == 2 {
			t.Errorf("customer delete of nobody = %v, want a failure other than a usage error", err)
		}
		if _, err := runCLI("customer", "delete", "--tenant", ten.ID, "--db", s.db); exitCode(err) != 2 {
			t.Errorf("customer delete without an id = %v (exit %d), want exit code 2", err, exitCode(err))
		}
		s.verify(t)
	})
}
