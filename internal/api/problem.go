package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

// Problem is an RFC 9457 problem document with Kopilka's stable code.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Instance string `json:"instance,omitempty"`
}

var statuses = map[kopilka.Code]int{
	kopilka.CodeInvalidRequest:       http.StatusBadRequest,
	kopilka.CodeUnauthorized:         http.StatusUnauthorized,
	kopilka.CodeForbidden:            http.StatusForbidden,
	kopilka.CodeNotFound:             http.StatusNotFound,
	kopilka.CodeCustomerNotFound:     http.StatusNotFound,
	kopilka.CodeNotEligible:          http.StatusUnprocessableEntity,
	kopilka.CodeInsufficientPoints:   http.StatusUnprocessableEntity,
	kopilka.CodeRedeemLimitExceeded:  http.StatusUnprocessableEntity,
	kopilka.CodeVerificationRequired: http.StatusUnprocessableEntity,
	kopilka.CodeVerificationFailed:   http.StatusUnprocessableEntity,
	kopilka.CodeConflict:             http.StatusConflict,
	kopilka.CodeLimitExceeded:        http.StatusTooManyRequests,
	kopilka.CodeRefundExceeded:       http.StatusUnprocessableEntity,
	kopilka.CodeNotEncodable:         http.StatusUnprocessableEntity,
	kopilka.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	kopilka.CodeUnavailable:          http.StatusServiceUnavailable,
	kopilka.CodeInternal:             http.StatusInternalServerError,
}

var titles = map[kopilka.Code]string{
	kopilka.CodeInvalidRequest:       "The request is not valid",
	kopilka.CodeUnauthorized:         "Authentication needed",
	kopilka.CodeForbidden:            "Not allowed with this key",
	kopilka.CodeNotFound:             "Not found",
	kopilka.CodeCustomerNotFound:     "Customer not found",
	kopilka.CodeNotEligible:          "Not eligible for the programme",
	kopilka.CodeInsufficientPoints:   "Not enough points",
	kopilka.CodeRedeemLimitExceeded:  "Redemption above the limit",
	kopilka.CodeVerificationRequired: "Verification code required",
	kopilka.CodeVerificationFailed:   "Verification failed",
	kopilka.CodeConflict:             "Conflict",
	kopilka.CodeLimitExceeded:        "Limit exceeded",
	kopilka.CodeRefundExceeded:       "Refund larger than the purchase",
	kopilka.CodeNotEncodable:         "The number does not fit this barcode type",
	kopilka.CodeTooLarge:             "Request too large",
	kopilka.CodeUnavailable:          "Temporarily unavailable",
	kopilka.CodeInternal:             "Internal error",
}

// wireCodes: refusals more precise than the contract's codes answer with
// the contract's code (API-CORE fixes the list integrators compare);
// their type, title and status still say which refusal it is.
var wireCodes = map[kopilka.Code]kopilka.Code{
	kopilka.CodeRefundExceeded: kopilka.CodeInvalidRequest,
	kopilka.CodeNotEncodable:   kopilka.CodeInvalidRequest,
	kopilka.CodeTooLarge:       kopilka.CodeInvalidRequest,
}

// wireCode is the code a problem carries for an error's code.
func wireCode(c kopilka.Code) kopilka.Code {
	if w, ok := wireCodes[c]; ok {
		return w
	}
	return c
}

// StatusClientClosed is what the access log and metrics record for a
// request whose client went away before the answer.
const StatusClientClosed = 499

// problemFor turns an error into a problem. Errors without a code are
// internal and carry no detail.
func problemFor(err error, instance string) Problem {
	code := kopilka.ErrorCode(err)
	if code == kopilka.CodeInternal && loyalty.Unavailable(err) {
		code = kopilka.CodeUnavailable
	}
	p := Problem{Type: "https://kopilka.dev/problems/" + string(code), Title: titles[code], Status: statuses[code],
		Code: string(wireCode(code)), Instance: instance}
	if e := kopilka.AsError(err); e != nil && code != kopilka.CodeInternal {
		p.Detail, p.Field = e.Message, e.Field
	}
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	return p
}

// problem writes err as problem+json; the one place errors leave the API.
// Internal errors are logged here, once, and shown without detail.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away (timed out, disconnected) and its request's
		// context ended the work: nobody reads this answer. 499, as proxies
		// name it, keeps it out of the 5xx counts; the client retries with
		// its Idempotency-Key.
		h.log.InfoContext(r.Context(), "client gone", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(StatusClientClosed)
		return
	}
	p := problemFor(err, r.URL.Path)
	if p.Status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "code", p.Code, "err", err)
	}
	setRetryAfter(w, err, p.Status)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kopilka"`)
	}
	b, _ := json.Marshal(p)
	writeRaw(w, p.Status, "application/problem+json", b)
}

// WriteProblem writes a problem for err; other surfaces (the server's
// middleware) use it so every error has the same shape.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err, r.URL.Path)
	b, _ := json.Marshal(p)
	writeRaw(w, p.Status, "application/problem+json", b)
}
