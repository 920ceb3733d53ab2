package e2e_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The phones of the masking tests, and the forms a body or a log must
// not hold them in: with and without "+", the national number, and the
// digits a mask hides.
const (
	maskPhone      = "+79164827351"
	maskPhoneShown = "+7 *** ***-73-51"
	maskExtra      = "+442079460958"
	maskExtraShown = "+44 ****** 0958"
)

var maskNeedles = []string{"79164827351", "9164827351", "916482", "442079460958", "2079460958", "207946"}

// phones is the phone fields of a customer answer; a nil pointer is a
// null, a missing field fails the test.
func phones(t *testing.T, what string, c map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range []string{"phone", "phone_masked", "extra_phone", "extra_phone_masked"} {
		v, ok := c[f]
		if !ok {
			t.Errorf("%s has no %s field: %v", what, f, c)
		}
		out[f] = v
	}
	return out
}

// TestS11MaskedPhones is the last clause of RELIABILITY S11: customer
// answers carry phone_masked and extra_phone_masked beside the full
// numbers the contract routes keep; a search by a key without the admin
// scope (a till's) shows the phones masked and holds no full number
// anywhere in its body, while an admin key's search shows them in full.
func TestS11MaskedPhones(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		ten := s.tenant(t, "Mask")
		pos := s.newAPIKey(t, ten.Key, map[string]any{"name": "till", "scopes": []string{"pos"}}).Key
		full := map[string]any{"phone": maskPhone, "phone_masked": maskPhoneShown, "extra_phone": maskExtra, "extra_phone_masked": maskExtraShown}
		masked := map[string]any{"phone": maskPhoneShown, "phone_masked": maskPhoneShown, "extra_phone": maskExtraShown, "extra_phone_masked": maskExtraShown}
		none := map[string]any{"phone": nil, "phone_masked": nil, "extra_phone": nil, "extra_phone_masked": nil}

		var c map[string]any
		r := s.do(t, "POST", "/v1/customers", pos, map[string]any{"phone": "8 916 482-73-51", "extra_phone": "+44 20 7946 0958",
			"first_name": "Ульяна", "last_name": "Маскова", "tags": []string{"masked"}}, nil)
		r.want(t, "POST /v1/customers", http.StatusCreated, "")
		r.decode(t, &c)
		id, _ := c["id"].(string)
		if d := cmp.Diff(full, phones(t, "POST /v1/customers", c)); d != "" {
			t.Errorf("POST /v1/customers phones mismatch (-want +got):\n%s", d)
		}
		var bare map[string]any
		s.do(t, "POST", "/v1/customers", pos, map[string]any{"first_name": "Без", "last_name": "Маскова", "tags": []string{"masked"}}, nil).
			decode(t, &bare)
		if d := cmp.Diff(none, phones(t, "a customer without phones", bare)); d != "" {
			t.Errorf("a customer without phones mismatch (-want +got):\n%s", d)
		}

		// The contract routes show the full number and the masked one.
		for _, rq := range []struct{ method, path string }{
			{"GET", "/v1/customers/" + id},
			{"PATCH", "/v1/customers/" + id},
			{"GET", "/v1/customers?phone=" + url.QueryEscape(maskPhone)},
			{"GET", "/v1/customers?id=" + id},
		} {
			var body any
			if rq.method == "PATCH" {
				body = map[string]any{"middle_name": "Петровна"}
			}
			var got map[string]any
			r := s.do(t, rq.method, rq.path, pos, body, nil)
			r.want(t, rq.method+" "+rq.path, http.StatusOK, "")
			r.decode(t, &got)
			if d := cmp.Diff(full, phones(t, rq.path, got)); d != "" {
				t.Errorf("%s %s phones mismatch (-want +got):\n%s", rq.method, rq.path, d)
			}
		}

		for _, q := range []string{"tag=masked", "name=" + url.QueryEscape("Маскова"), "phone=" + url.QueryEscape(maskPhone), ""} {
			for _, k := range []struct {
				name, key string
				want      map[string]any
			}{{"admin", ten.Key, full}, {"pos", pos, masked}} {
				r := s.do(t, "GET", "/v1/customers/search?"+q, k.key, nil, nil)
				r.want(t, k.name+" search "+q, http.StatusOK, "")
				var p customerPage
				r.decode(t, &p)
				var seen bool
				for _, it := range p.Items {
					switch it["id"] {
					case id:
						seen = true
						if d := cmp.Diff(k.want, phones(t, "search", it)); d != "" {
							t.Errorf("%s search %q phones mismatch (-want +got):\n%s", k.name, q, d)
						}
					case bare["id"]:
						if d := cmp.Diff(none, phones(t, "search", it)); d != "" {
							t.Errorf("%s search %q, a customer without phones, mismatch (-want +got):\n%s", k.name, q, d)
						}
					}
				}
				if !seen {
					t.Errorf("%s search %q = %s, want the customer %s", k.name, q, r.Body, id)
				}
				if leaks := found(r.Body, maskNeedles); k.name == "pos" && len(leaks) > 0 {
					t.Errorf("pos search %q = %s: holds %q, want no full number", q, r.Body, leaks)
				}
			}
		}

		// The change history: a till sees that the phones changed, masked;
		// the admin sees the numbers.
		s.do(t, "PATCH", "/v1/customers/"+id, ten.Key, map[string]any{"phone": "+79164820000", "extra_phone": ""}, nil).
			want(t, "PATCH phones", http.StatusOK, "")
		for _, k := range []struct {
			name, key, old, extra string
		}{{"admin", ten.Key, maskPhone, maskExtra}, {"pos", pos, maskPhoneShown, maskExtraShown}} {
			r := s.do(t, "GET", "/v1/customers/"+id+"/history", k.key, nil, nil)
			r.want(t, k.name+" history", http.StatusOK, "")
			var h struct {
				Items []struct {
					Field    string `json:"field"`
					OldValue string `json:"old_value"`
				} `json:"items"`
			}
			r.decode(t, &h)
			got := map[string]string{}
			for _, it := range h.Items {
				if it.Field == "phone" || it.Field == "extra_phone" {
					got[it.Field] = it.OldValue
				}
			}
			if want := map[string]string{"phone": k.old, "extra_phone": k.extra}; !cmp.Equal(want, got) {
				t.Errorf("%s history: phone changes from %v, want from %v (%s)", k.name, got, want, r.Body)
			}
			if leaks := found(r.Body, maskNeedles); k.name == "pos" && len(leaks) > 0 {
				t.Errorf("pos history = %s: holds %q, want no full number", r.Body, leaks)
			}
		}
	})
}

// TestS11AccessLogHidesPhones: at debug level every request is logged,
// and none of the lines holds a phone, e-mail or name the requests
// carried in their query strings or bodies (RELIABILITY S11).
func TestS11AccessLogHidesPhones(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite", "--log-level", "debug")
	ten := s.tenant(t, "Mask log")
	email, name := "mask.log.qz@example.org", "Логинова"
	s.newCustomer(t, ten.Key, map[string]any{"phone": maskPhone, "email": email, "last_name": name})
	for _, path := range []string{
		"/v1/customers?phone=" + url.QueryEscape(maskPhone),
		"/v1/customers?phone=" + maskPhone[1:],
		"/v1/customers?phone=%2B442079460958",
		"/v1/customers/search?phone=" + url.QueryEscape(maskPhone) + "&email=" + url.QueryEscape(email) + "&name=" + url.QueryEscape(name),
	} {
		s.do(t, "GET", path, ten.Key, nil, nil)
	}
	log := s.log.String()
	if !strings.Contains(log, `"route":"GET /v1/customers"`) || !strings.Contains(log, `"route":"GET /v1/customers/search"`) {
		t.Fatalf("the log has no request lines of the lookups: the check saw nothing (log level?):\n%s", log)
	}
	if leaks := found([]byte(log), append([]string{email, name}, maskNeedles...)); len(leaks) > 0 {
		t.Errorf("the server's log holds %q:\n%s", leaks, log)
	}
}
