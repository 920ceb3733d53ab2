package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// client speaks the /v1 API with one admin key.
type client struct {
	base string
	key  string
	hc   *http.Client
}

func newClient(addr, key string) *client {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &client{base: "http://" + addr, key: key, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// answer is what one HTTP attempt got: a status and body, or an error
// when no answer arrived.
type answer struct {
	status   int
	body     []byte
	replayed bool // Idempotent-Replayed: true
	err      error
}

// code returns the problem code of an error answer.
func (a answer) code() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(a.body, &p)
	return p.Code
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

// send makes one attempt. idemKey may be empty.
func (c *client) send(ctx context.Context, method, path, idemKey string, body []byte) answer {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: fmt.Errorf("read the answer of %d: %w", resp.StatusCode, err)}
	}
	return answer{status: resp.StatusCode, body: b, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
}

// getJSON GETs path and decodes a 200 answer into v.
func (c *client) getJSON(ctx context.Context, path string, v any) error {
	a := c.send(ctx, http.MethodGet, path, "", nil)
	if a.err != nil {
		return fmt.Errorf("GET %s: %w", path, a.err)
	}
	if a.status != http.StatusOK {
		return fmt.Errorf("GET %s = %s, want 200", path, a)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("GET %s: decode %s: %w", path, a.body, err)
	}
	return nil
}

// createCustomer enrols a customer with nothing but a name and returns
// its id.
func (c *client) createCustomer(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"first_name": name})
	a := c.send(ctx, http.MethodPost, "/v1/customers", "customer-"+name, body)
	if a.err != nil || a.status != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/customers %s = %s, want 201", body, a)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("POST /v1/customers = %s, want an id", a.body)
	}
	return v.ID, nil
}

// balance is the part of GET /v1/customers/{id}/balance the oracle uses.
type balance struct {
	Available      int64 `json:"available"`
	Pending        int64 `json:"pending"`
	Reserved       int64 `json:"reserved"`
	PurchasesTotal int64 `json:"purchases_total"`
}

func (c *client) balance(ctx context.Context, customer string) (balance, error) {
	var b balance
	err := c.getJSON(ctx, "/v1/customers/"+customer+"/balance", &b)
	return b, err
}

// ledgerOp is an operation as GET /v1/customers/{id}/operations lists it.
type ledgerOp struct {
	ID         string
	CustomerID string
	Type       string
	Status     string
	Amount     int64
	ExternalID string
	PurchaseID string
}

// operations pages through every operation of a customer.
func (c *client) operations(ctx context.Context, customer string) ([]ledgerOp, error) {
	var out []ledgerOp
	cursor := ""
	for {
		path := "/v1/customers/" + customer + "/operations?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				ID         string  `json:"id"`
				CustomerID string  `json:"customer_id"`
				Type       string  `json:"type"`
				Status     string  `json:"status"`
				Amount     int64   `json:"amount"`
				ExternalID *string `json:"external_id"`
				PurchaseID *string `json:"purchase_id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := c.getJSON(ctx, path, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			op := ledgerOp{ID: it.ID, CustomerID: it.CustomerID, Type: it.Type, Status: it.Status, Amount: it.Amount}
			if it.ExternalID != nil {
				op.ExternalID = *it.ExternalID
			}
			if it.PurchaseID != nil {
				op.PurchaseID = *it.PurchaseID
			}
			out = append(out, op)
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			return out, nil
		}
		cursor = *page.NextCursor
	}
}

// purchase looks a purchase up by its external_id; nil when there is
// none (404 not_found).
func (c *client) purchase(ctx context.Context, externalID string) (*purchaseView, error) {
	path := "/v1/purchases?external_id=" + url.QueryEscape(externalID)
	a := c.send(ctx, http.MethodGet, path, "", nil)
	switch {
	case a.err != nil:
		return nil, fmt.Errorf("GET %s: %w", path, a.err)
	case a.status == http.StatusNotFound && a.code() == "not_found":
		return nil, nil
	case a.status != http.StatusOK:
		return nil, fmt.Errorf("GET %s = %s, want 200 or 404", path, a)
	}
	var p purchaseView
	if err := json.Unmarshal(a.body, &p); err != nil || p.ExternalID != externalID {
		return nil, fmt.Errorf("GET %s = %s, want the purchase (%v)", path, a.body, err)
	}
	return &p, nil
}

// ledgerView is what the oracle reads back through the API after a run.
type ledgerView struct {
	Ops       []ledgerOp
	Balances  map[string]balance       // by customer id
	Purchases map[string]*purchaseView // by external_id; absent: none
}

// readLedger reads every operation and balance of the customers and the
// purchases with the external_ids (8 lookups at a time).
func (c *client) readLedger(ctx context.Context, customers, purchaseExts []string) (ledgerView, error) {
	lv := ledgerView{Balances: map[string]balance{}, Purchases: map[string]*purchaseView{}}
	for _, id := range customers {
		ops, err := c.operations(ctx, id)
		if err != nil {
			return lv, err
		}
		lv.Ops = append(lv.Ops, ops...)
		b, err := c.balance(ctx, id)
		if err != nil {
			return lv, err
		}
		lv.Balances[id] = b
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	exts := make(chan string)
	for range 8 {
		wg.Go(func() {
			for ext := range exts {
				p, err := c.purchase(ctx, ext)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if p != nil {
					lv.Purchases[ext] = p
				}
				mu.Unlock()
			}
		})
	}
	for _, ext := range purchaseExts {
		exts <- ext
	}
	close(exts)
	wg.Wait()
	return lv, first
}
