package e2e_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// card is a card as the API shows it.
type card struct {
	Number     string  `json:"number"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	CustomerID string  `json:"customer_id"`
	ReplacedBy *string `json:"replaced_by"`
}

// newRange creates a card range and returns its id.
func (s *server) newRange(t *testing.T, adminKey string, body any) string {
	t.Helper()
	r := s.do(t, "POST", "/v1/card-ranges", adminKey, body, nil)
	r.want(t, "POST /v1/card-ranges", http.StatusCreated, "")
	var v struct {
		ID string `json:"id"`
	}
	r.decode(t, &v)
	return v.ID
}

// issueCard issues a card to the customer and returns it.
func (s *server) issueCard(t *testing.T, key, customerID string, body any) card {
	t.Helper()
	r := s.do(t, "POST", "/v1/customers/"+customerID+"/cards", key, body, nil)
	r.want(t, "POST /v1/customers/{id}/cards", http.StatusCreated, "")
	var k card
	r.decode(t, &k)
	return k
}

// TestCardLifecycle drives cards as a till and an admin would over HTTP:
// a range, concurrent issues, identification by number and by barcode
// scan, a purchase by card, blocking, replacement that keeps the points,
// and the electronic-card settings; verify passes at the end.
func TestCardLifecycle(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		tn := s.tenant(t, "Cards")
		s.do(t, "PUT", "/v1/program", tn.Key, `{"tiers":[{"name":"Base","accrual_percent":5,"max_redeem_percent":50}]}`, nil).
			want(t, "PUT /v1/program", http.StatusOK, "")
		s.newRange(t, tn.Key, `{"prefix":"46","start":1,"width":6,"check_digit":"none"}`)
		s.do(t, "POST", "/v1/card-ranges", tn.Key, `{"prefix":"460","start":0,"width":5}`, nil).
			want(t, "an overlapping range", http.StatusConflict, "conflict")

		// 40 issues at once: 40 distinct numbers, the first 40 of the range.
		var customers []customer
		for range 8 {
			customers = append(customers, s.newCustomer(t, tn.Key, `{}`))
		}
		const n = 40
		var wg sync.WaitGroup
		answers, errs := make([]response, n), make([]error, n)
		for i := range n {
			wg.Go(func() {
				answers[i], errs[i] = s.send(t.Context(), "POST", "/v1/customers/"+customers[i%len(customers)].ID+"/cards", tn.Key,
					`{"kind":"electronic"}`, nil)
			})
		}
		wg.Wait()
		var got []string
		for i, r := range answers {
			if errs[i] != nil {
				t.Fatalf("issue #%d: %v", i, errs[i])
			}
			r.want(t, fmt.Sprintf("issue #%d", i), http.StatusCreated, "")
			var k card
			r.decode(t, &k)
			got = append(got, k.Number)
		}
		slices.Sort(got)
		var want []string
		for i := 1; i <= n; i++ {
			want = append(want, "46"+pad6(i))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d concurrent issues = %v, want %v", n, got, want)
		}

		c := s.newCustomer(t, tn.Key, `{"phone":"+79120000077"}`)
		s.credit(t, tn.Key, c.ID, 30000)
		k := s.issueCard(t, tn.Key, c.ID, `{"kind":"plastic"}`)
		if k.Number != "46000041" || k.Status != "active" || k.Kind != "plastic" {
			t.Fatalf("POST cards = %+v, want active plastic 46000041", k)
		}
		// The bare number, an EAN-13 scan of it and the phone find the
		// holder, with its balance and tier.
		for _, q := range []string{"card=46000041", "card=0000460000411", "phone=89120000077"} {
			var got struct {
				ID        string `json:"id"`
				Tier      string `json:"tier"`
				Available int64  `json:"available"`
				Balance   struct {
					Available int64  `json:"available"`
					Tier      string `json:"tier"`
				} `json:"balance"`
			}
			s.do(t, "GET", "/v1/customers?"+q, tn.Key, nil, nil).decode(t, &got)
			if got.ID != c.ID || got.Tier != "Base" || got.Available != 30000 || got.Balance.Available != 30000 || got.Balance.Tier != "Base" {
				t.Errorf("GET /v1/customers?%s = %+v, want %s in tier Base with 30000 available", q, got, c.ID)
			}
		}
		// The card view: the card with its holder's balance and tier.
		var view struct {
			CustomerID    string `json:"customer_id"`
			HolderDeleted bool   `json:"holder_deleted"`
			Tier          string `json:"tier"`
			Available     int64  `json:"available"`
		}
		s.do(t, "GET", "/v1/cards/46000041", tn.Key, nil, nil).decode(t, &view)
		if view.CustomerID != c.ID || view.HolderDeleted || view.Tier != "Base" || view.Available != 30000 {
			t.Errorf("GET /v1/cards/46000041 = %+v, want %s in tier Base with 30000 available", view, c.ID)
		}
		buy := func(number, ext string) response {
			return s.do(t, "POST", "/v1/purchases", tn.Key, map[string]any{"customer": map[string]string{"card": number}, "external_id": ext,
				"confirm": true, "redeem": 10000, "lines": []map[string]any{{"sku": "TEA", "quantity": 1, "price": 50000}}}, nil)
		}
		buy(k.Number, "R-1").want(t, "a purchase by card", http.StatusCreated, "")

		s.do(t, "POST", "/v1/cards/"+k.Number+"/block", tn.Key, nil, nil).want(t, "block", http.StatusOK, "")
		buy(k.Number, "R-2").want(t, "a purchase by a blocked card", http.StatusNotFound, "customer_not_found")
		s.do(t, "GET", "/v1/customers?card="+k.Number, tn.Key, nil, nil).want(t, "find by a blocked card", http.StatusNotFound, "customer_not_found")

		before := s.balance(t, tn.Key, c.ID)
		r := s.do(t, "POST", "/v1/cards/"+k.Number+"/replace", tn.Key, nil, nil)
		r.want(t, "replace", http.StatusCreated, "")
		var nk card
		r.decode(t, &nk)
		if nk.Number != "46000042" || nk.Kind != "plastic" || nk.CustomerID != c.ID {
			t.Errorf("replace = %+v, want plastic 46000042 of %s", nk, c.ID)
		}
		if after := s.balance(t, tn.Key, c.ID); after.Available != before.Available {
			t.Errorf("available after the replacement = %d, want %d", after.Available, before.Available)
		}
		buy(nk.Number, "R-3").want(t, "a purchase by the new card", http.StatusCreated, "")
		buy(k.Number, "R-4").want(t, "a purchase by the replaced card", http.StatusNotFound, "customer_not_found")

		// The MoySklad settings: an electronic card replaces the plastic
		// one and puts the customer in the group.
		s.do(t, "PUT", "/v1/settings", tn.Key, `{"electronic_deactivates_plastic":true,"electronic_card_group":"Электронная карта"}`, nil).
			want(t, "PUT /v1/settings", http.StatusOK, "")
		el := s.issueCard(t, tn.Key, c.ID, `{"kind":"electronic"}`)
		var old card
		s.do(t, "GET", "/v1/cards/"+nk.Number, tn.Key, nil, nil).decode(t, &old)
		if old.Status != "replaced" || old.ReplacedBy == nil || *old.ReplacedBy != el.Number {
			t.Errorf("the plastic card after the electronic issue = %+v, want replaced by %s", old, el.Number)
		}
		var prof struct {
			Group *string `json:"group"`
		}
		s.do(t, "GET", "/v1/customers/"+c.ID, tn.Key, nil, nil).decode(t, &prof)
		if prof.Group == nil || *prof.Group != "Электронная карта" {
			t.Errorf("group after the electronic issue = %v, want Электронная карта", prof.Group)
		}
		s.verify(t)
	})
}

func pad6(i int) string { return fmt.Sprintf("%06d", i) }
