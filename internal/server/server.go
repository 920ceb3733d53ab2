// Package server composes the HTTP surfaces (the JSON API, /healthz and
// /metrics) behind the shared middleware — request id, access log, panic
// recovery, metrics — and runs the http.Server with graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kopilka/kopilka/internal/api"
	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/transfer"
)

// Metrics are the server's Prometheus collectors, on a registry of its own.
type Metrics struct {
	Registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	operations *prometheus.CounterVec
}

// NewMetrics makes the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kopilka_http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kopilka_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kopilka_ledger_operations_total",
			Help: "Ledger operations written, by type and status."}, []string{"type", "status"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.operations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// limited registers the counters of the requests l refused.
func (m *Metrics) limited(l api.Limits) {
	const name, help = "kopilka_http_limited_total", "API requests refused with 429 limit_exceeded, by the limit that refused them."
	if l.Rate != nil {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help,
			ConstLabels: prometheus.Labels{"limit": "key_rate"}}, func() float64 { return float64(l.Rate.Refused()) }))
	}
	if l.Inflight != nil {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help,
			ConstLabels: prometheus.Labels{"limit": "tenant_inflight"}}, func() float64 { return float64(l.Inflight.Refused()) }))
	}
}

// Operation counts a ledger operation; loyalty.Service calls it.
func (m *Metrics) Operation(t kopilka.OpType, s kopilka.OpStatus) {
	m.operations.WithLabelValues(string(t), string(s)).Inc()
}

// Option changes what NewHandler builds.
type Option func(*options)

type options struct {
	imports *transfer.Jobs
	limits  api.Limits
}

// WithImports runs the API's imports on jobs, which the caller stops
// after the server; without it the handler keeps a runner of its own.
func WithImports(jobs *transfer.Jobs) Option { return func(o *options) { o.imports = jobs } }

// WithLimits applies the per-key rate limit and the per-tenant cap of
// requests in flight to the API (not to /healthz and /metrics), and
// counts the requests they refuse in kopilka_http_limited_total.
func WithLimits(l api.Limits) Option { return func(o *options) { o.limits = l } }

// DefaultInflightQueue is how many requests of one tenant may wait for
// one of its slots, and InflightWait how long each may wait, before the
// tenant's requests are refused with 429 limit_exceeded. A waiting request
// holds no database session, so other tenants pass it by; the queue is
// deep enough for a thousand concurrent requests of one tenant (RELIABILITY
// I1) and the wait longer than such a burst takes to drain.
const (
	DefaultInflightQueue = 2048
	InflightWait         = 10 * time.Second
)

// NewHandler builds the whole HTTP handler.
func NewHandler(svc *loyalty.Service, m *Metrics, log *slog.Logger, opts ...Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	wrap := func(route string, next http.Handler) http.Handler { return instrument(route, m, log, next) }
	m.limited(o.limits)
	api.New(svc, log).WithImports(o.imports).WithLimits(o.limits).Register(mux, wrap)
	mux.Handle("GET /healthz", wrap("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := svc.Ping(ctx); err != nil {
			api.WriteProblem(w, r, &kopilka.Error{Code: kopilka.CodeUnavailable, Message: "the database does not answer", Err: err})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","database":%q}`, svc.Dialect())
	})))
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.Handle("/", wrap("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteProblem(w, r, kopilka.Errorf(kopilka.CodeNotFound, "no such page: %s", r.URL.Path))
	})))
	return mux
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (deadlines
// and flushes of streamed exports).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// instrument adds a request id, recovers panics as a problem, records
// metrics and writes one access-log line per request. The line names the
// route's pattern, never the URL: query strings carry phones, e-mails and
// names (GET /v1/customers?phone=…), which logs must not hold
// (RELIABILITY S11; TestS11AccessLogHidesPhones).
func instrument(route string, m *Metrics, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "route", route, "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					api.WriteProblem(rec, r, errors.New("panic"))
				}
			}
			d := time.Since(start)
			m.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
			m.latency.WithLabelValues(route).Observe(d.Seconds())
			level := slog.LevelDebug
			if rec.status >= 500 {
				level = slog.LevelWarn
			}
			log.Log(r.Context(), level, "request", "method", r.Method, "route", route, "status", rec.status,
				"bytes", rec.bytes, "duration_ms", float64(d.Microseconds())/1000, "request_id", id)
		}()
		next.ServeHTTP(rec, r)
	})
}

// Serve runs an http.Server on ln until ctx ends, then shuts it down
// gracefully: it stops accepting, lets in-flight requests finish (up to
// grace), cuts the connections still busy after that, and returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A request still running after the grace (a client stalled in
		// the middle of its body, say) must not hold the exit. Its client
		// sees a cut connection and retries with its Idempotency-Key; the
		// stop itself is orderly, so it is not an error.
		log.Warn("requests still running after the grace; closing their connections", "grace", grace.String())
		err = srv.Close()
	}
	<-errc
	return err
}
