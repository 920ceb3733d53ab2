package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// outcome is what one client saw of one request.
type outcome struct {
	Status int    // 0 when the request had no answer
	Code   string // problem code of an error answer
	OpID   string // operation id of a success
	Err    string // transport error
	resp   response
}

func outcomeOf(r response, err error) outcome {
	if err != nil {
		return outcome{Err: err.Error()}
	}
	o := outcome{Status: r.Status, Code: r.code(), resp: r}
	if r.Status < 300 {
		var op operation
		if json.Unmarshal(r.Body, &op) == nil {
			o.OpID = op.ID
		}
	}
	return o
}

// burst sends n requests made by req at once, behind a start barrier, and
// returns what each client saw.
func (s *server) burst(n int, req func(i int) (method, path, key string, body any, hdr map[string]string)) []outcome {
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			method, path, key, body, hdr := req(i)
			<-start
			r, err := s.send(context.Background(), method, path, key, body, hdr)
			out[i] = outcomeOf(r, err)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// redemptionRun is the record of a C1 run: the client-side history and
// what the ledger holds afterwards.
type redemptionRun struct {
	Accepted  int         // successes the balance allows (B)
	History   []outcome   // every request's final answer
	Debits    []operation // the debit operations in the customer's history
	Amount    int64       // each debit's amount (negative)
	Available int64       // the final available balance
	Refusals  []string    // the refusal codes allowed; nil means insufficient_points
}

// checkRedemptions is the C1 oracle: exactly Accepted successes, every
// other answer 422 insufficient_points, nothing unresolved or 5xx, every
// acknowledged debit in the ledger exactly once and no other (O1), and
// the balance spent to zero.
func checkRedemptions(run redemptionRun) []string {
	var bad []string
	acked := map[string]int{}
	declined := 0
	refusals := run.Refusals
	if refusals == nil {
		refusals = []string{"insufficient_points"}
	}
	for i, o := range run.History {
		switch {
		case o.Status == http.StatusCreated && o.OpID != "":
			acked[o.OpID]++
		case o.Status == http.StatusUnprocessableEntity && slices.Contains(refusals, o.Code):
			declined++
		default:
			bad = append(bad, fmt.Sprintf("request %d: status %d code %q err %q, want 201 or 422 %v", i, o.Status, o.Code, o.Err, refusals))
		}
	}
	successes := 0
	for id, n := range acked {
		successes += n
		if n > 1 {
			bad = append(bad, fmt.Sprintf("operation %s acknowledged %d times", id, n))
		}
	}
	if successes != run.Accepted || declined != len(run.History)-run.Accepted {
		bad = append(bad, fmt.Sprintf("accepted %d, declined %d; want %d and %d", successes, declined, run.Accepted, len(run.History)-run.Accepted))
	}
	inLedger := map[string]int{}
	for _, op := range run.Debits {
		inLedger[op.ID]++
		if op.Amount != run.Amount || op.Status != "complete" {
			bad = append(bad, fmt.Sprintf("debit %s: amount %d status %s, want %d complete", op.ID, op.Amount, op.Status, run.Amount))
		}
	}
	for id, n := range inLedger {
		if n != 1 || acked[id] == 0 {
			bad = append(bad, fmt.Sprintf("ledger debit %s appears %d times, acknowledged %d times; want once each", id, n, acked[id]))
		}
	}
	for id := range acked {
		if inLedger[id] == 0 {
			bad = append(bad, fmt.Sprintf("acknowledged debit %s is not in the ledger", id))
		}
	}
	if run.Available != 0 {
		bad = append(bad, fmt.Sprintf("final available balance %d, want 0", run.Available))
	}
	return bad
}

// TestC1ConcurrentRedemptions is RELIABILITY C1 (CI size): 200 concurrent
// 1-point debits on a customer holding 100 points. Exactly 100 succeed,
// 100 are refused with insufficient_points, nothing else happens.
func TestC1ConcurrentRedemptions(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		const n, points = 200, 100
		ten := s.tenant(t, "C1")
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001"})
		s.credit(t, ten.Key, c.ID, points*100)

		history := s.burst(n, func(int) (string, string, string, any, map[string]string) {
			return "POST", "/v1/customers/" + c.ID + "/adjustments", ten.Key, `{"amount":-100,"reason":"C1"}`, nil
		})
		for i, o := range history {
			if err := checkProblem(o.resp); o.Err == "" && err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		var debits []operation
		for _, op := range s.operations(t, ten.Key, c.ID) {
			if op.Amount < 0 {
				debits = append(debits, op)
			}
		}
		run := redemptionRun{Accepted: points, History: history, Debits: debits, Amount: -100,
			Available: s.balance(t, ten.Key, c.ID).Available}
		if bad := checkRedemptions(run); len(bad) > 0 {
			t.Errorf("C1 oracle found %d problems:\n%v", len(bad), bad)
		}
		s.verify(t)

		// Negative controls: the oracle must fail on a history with one
		// extra success, and on a ledger with one debit nobody was told of.
		extra := run
		extra.History = slices.Clone(history)
		for i, o := range extra.History {
			if o.Status == http.StatusUnprocessableEntity {
				extra.History[i] = outcome{Status: http.StatusCreated, OpID: "op_fabricated0000000"}
				break
			}
		}
		if bad := checkRedemptions(extra); len(bad) == 0 {
			t.Error("checkRedemptions(history with one extra success) found nothing, want a failure")
		}
		ghost := run
		ghost.Debits = append(slices.Clone(debits), operation{ID: "op_ghost0000000000", Amount: -100, Status: "complete"})
		ghost.Available = 0
		if bad := checkRedemptions(ghost); len(bad) == 0 {
			t.Error("checkRedemptions(ledger with an unacknowledged debit) found nothing, want a failure")
		}
	})
}

// answer is one decoded answer of an idempotent retry.
type answer struct {
	Status int
	Body   any
}

// checkIdentical is the I1 oracle: every answer equals the first, which is
// a 201, and the ledger holds exactly the one operation it names.
func checkIdentical(answers []answer, ledger []operation) []string {
	var bad []string
	if len(answers) == 0 {
		return []string{"no answers"}
	}
	first := answers[0]
	if first.Status != http.StatusCreated {
		bad = append(bad, fmt.Sprintf("first answer status %d, want 201", first.Status))
	}
	for i, a := range answers[1:] {
		if a.Status != first.Status {
			bad = append(bad, fmt.Sprintf("answer %d: status %d, want %d", i+1, a.Status, first.Status))
		}
		if d := cmp.Diff(first.Body, a.Body); d != "" {
			bad = append(bad, fmt.Sprintf("answer %d differs from the first (-first +this):\n%s", i+1, d))
		}
	}
	id, _ := first.Body.(map[string]any)["id"].(string)
	if len(ledger) != 1 || ledger[0].ID != id {
		bad = append(bad, fmt.Sprintf("ledger holds %d adjustments %v, want exactly the one answered (%s)", len(ledger), ledger, id))
	}
	return bad
}

// TestI1ConcurrentSameKey is RELIABILITY I1: 1000 concurrent identical
// POSTs under one Idempotency-Key make exactly one operation, and all 1000
// clients get the same answer.
func TestI1ConcurrentSameKey(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		const n = 1000
		ten := s.tenant(t, "I1")
		c := s.newCustomer(t, ten.Key, map[string]any{"phone": "+79120000001"})
		key := newKey()
		history := s.burst(n, func(int) (string, string, string, any, map[string]string) {
			return "POST", "/v1/customers/" + c.ID + "/adjustments", ten.Key, `{"amount":100,"reason":"I1"}`,
				map[string]string{"Idempotency-Key": key}
		})
		answers := make([]answer, 0, n)
		statuses := map[int]int{}
		for i, o := range history {
			if o.Err != "" {
				t.Errorf("request %d: %s", i, o.Err)
				continue
			}
			statuses[o.Status]++
			var body any
			if err := json.Unmarshal(o.resp.Body, &body); err != nil {
				t.Errorf("request %d: body %q: %v", i, o.resp.Body, err)
			}
			answers = append(answers, answer{Status: o.Status, Body: body})
		}
		ops := s.operations(t, ten.Key, c.ID)
		if bad := checkIdentical(answers, ops); len(bad) > 0 {
			t.Errorf("I1 oracle: statuses %v; %d problems, first few:\n%v", statuses, len(bad), bad[:min(len(bad), 5)])
		}
		if b := s.balance(t, ten.Key, c.ID); b.Available != 100 {
			t.Errorf("balance after 1000 retries of one +1.00 = %d, want 100", b.Available)
		}
		s.verify(t)

		// Negative controls: a second effect or one differing answer must fail.
		if len(answers) == n && len(ops) == 1 {
			twice := append(slices.Clone(ops), operation{ID: "op_second000000000", Amount: 100})
			if bad := checkIdentical(answers, twice); len(bad) == 0 {
				t.Error("checkIdentical(ledger with two operations) found nothing, want a failure")
			}
			odd := slices.Clone(answers)
			odd[n-1] = answer{Status: http.StatusCreated, Body: map[string]any{"id": "op_other0000000000"}}
			if bad := checkIdentical(odd, ops); len(bad) == 0 {
				t.Error("checkIdentical(one different answer) found nothing, want a failure")
			}
		}
	})
}

// TestI1ConcurrentSameKeyCustomer is RELIABILITY I1 on POST /v1/customers:
// concurrent identical enrolments under one key make one customer and
// every client gets the first answer, even though the phone is unique.
func TestI1ConcurrentSameKeyCustomer(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *server) {
		const n = 100
		ten := s.tenant(t, "I1 customers")
		key := newKey()
		history := s.burst(n, func(int) (string, string, string, any, map[string]string) {
			return "POST", "/v1/customers", ten.Key, `{"phone":"+79120000001","first_name":"Once"}`,
				map[string]string{"Idempotency-Key": key}
		})
		statuses := map[string]int{}
		var first any
		for i, o := range history {
			statuses[fmt.Sprintf("%d %s", o.Status, o.Code)]++
			if o.Err != "" || o.Status != http.StatusCreated {
				continue
			}
			var body any
			if err := json.Unmarshal(o.resp.Body, &body); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if first == nil {
				first = body
			} else if d := cmp.Diff(first, body); d != "" {
				t.Errorf("request %d: answer differs from another 201 (-other +this):\n%s", i, d)
			}
		}
		if statuses["201 "] != n {
			t.Errorf("answers by status = %v, want all %d 201 with the same customer", statuses, n)
		}
		r := s.do(t, "GET", "/v1/customers?phone=%2B79120000001", ten.Key, nil, nil)
		r.want(t, "find the customer", http.StatusOK, "")
		if id, _ := first.(map[string]any)["id"].(string); first != nil && id != decoded(t, r).(map[string]any)["id"] {
			t.Errorf("the answered customer %s is not the one stored: %s", id, r.Body)
		}
	})
}
