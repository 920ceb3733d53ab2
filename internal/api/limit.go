package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/limit"
)

// Limits are what the handler takes of each authenticated request
// before serving it (RELIABILITY S5): a token from its key's bucket and a
// slot of its tenant's requests in flight. A nil field is no limit.
type Limits struct {
	Rate     *limit.Rate
	Inflight *limit.Inflight
}

// WithLimits applies l to every request with a key; requests without
// one (the docs) are not limited.
func (h *Handler) WithLimits(l Limits) *Handler {
	h.limits = l
	return h
}

// retryAfter is a refusal the client may retry after a number of seconds
// (the Retry-After header).
type retryAfter struct {
	seconds int
	err     error
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// admit takes the request's token and slot, or refuses it with
// limit_exceeded and a Retry-After; release gives the slot back.
func (h *Handler) admit(ctx context.Context, k *kopilka.APIKey) (release func(), err error) {
	if ok, wait := h.limits.Rate.Allow(k.ID); !ok {
		s := max(1, int(math.Ceil(wait.Seconds())))
		return nil, &retryAfter{seconds: s, err: kopilka.Errorf(kopilka.CodeLimitExceeded,
			"this key sent more requests than its rate limit allows; retry in %d s", s)}
	}
	release, ok := h.limits.Inflight.Acquire(ctx, k.TenantID)
	if !ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, &retryAfter{seconds: 1, err: kopilka.Errorf(kopilka.CodeLimitExceeded,
			"too many requests of this tenant are running or waiting; retry in 1 s")}
	}
	return release, nil
}

// setRetryAfter sets the Retry-After header of a refusal the client may
// retry: the seconds the refusal names, or 1.
func setRetryAfter(w http.ResponseWriter, err error, status int) {
	if status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests {
		return
	}
	s := 1
	if ra := (*retryAfter)(nil); errors.As(err, &ra) {
		s = ra.seconds
	}
	w.Header().Set("Retry-After", strconv.Itoa(s))
}
