// Package crashtest is Kopilka's crash and durability battery
// (RELIABILITY D1, D3 and D5). It builds the real kopilka binary, runs
// `kopilka serve` as a child process on a database of its own, drives a
// bounded, mixed load at it, kills the process with SIGKILL (D1 on
// PostgreSQL, D3 on SQLite) or stops it with SIGTERM (D5) at seeded
// moments, restarts it on the same address and database, and then checks
// the shared oracle.
//
// The load (mix_test.go) runs under a two-tier programme with no
// activation delay and mixes point adjustments (credits and debits, often
// refused with insufficient_points), retail sales (POST /v1/purchases with
// confirm, with no redemption, an integer the customer can likely afford,
// or "max"), orders created pending and confirmed or cancelled by a later
// request, refunds of complete purchases (some lines in part, or
// everything left), and balance reads. A confirm, cancel or refund acts on
// a purchase the server acknowledged before, taken from a pool so that no
// two requests race on one purchase.
//
// The oracle (check):
//
//   - O1 exactly once: every acknowledged adjustment exists exactly once,
//     matched by its external_id; every acknowledged purchase is found by
//     GET /v1/purchases?external_id= with the id, figures and status
//     (complete, pending or cancelled) its acknowledged requests imply, and
//     its redemption and accrual operations carry that status; every
//     acknowledged refund happened once (the purchase's refunded
//     quantities and its refund operations add up to the acknowledged
//     refunds, whose points follow the path-independent shares); every
//     acknowledged refusal left nothing; no ledger operation lacks an
//     acknowledged request; no outcome stays unknown.
//   - O2 conservation: per customer, available, pending, reserved and
//     purchases_total equal what the acknowledged answers imply (see
//     expectation) and what the customer's ledger operations sum to (the
//     tenant-wide identity over the system accounts is verify's).
//   - O3 no overdraft: no redemption is acknowledged above the available
//     points it was priced with; pending and reserved never go below zero,
//     and available only through a refund that revoked spent points (a
//     debt), both in reads during the load and at the end.
//   - O5 `kopilka verify` exits 0; on SQLite `PRAGMA integrity_check`
//     answers ok after every crash and at the end.
//
// A fault is sent at a seeded moment, or up to a second later when no
// request is in flight then, so that it hits the server while it works.
// Every state-changing request carries a unique Idempotency-Key and, where
// the API has one, a unique external_id; an unknown outcome (connection
// error, 503, other 5xx) is retried with the same key and body until it is
// definitive. Negative controls send an acknowledged adjustment, an
// acknowledged sale and a refund again under a new key and external_id and
// require the oracle to flag each; TestCheck breaks each property on
// made-up data. D5 also stops the server while a client stalls in the
// middle of a request body: the exit must still come within 10 s of
// SIGTERM.
//
// Under -race the server binary is built with the race detector too, and
// a race it reports fails the test.
//
// The package holds only tests. Their settings, all optional:
//
//	KOPILKA_CRASH_SECONDS  load duration of D1/D3 in seconds (default 20)
//	KOPILKA_CRASH_RATE     target requests per second, all kinds (default 300)
//	KOPILKA_CRASH_KILLS    SIGKILLs during the D1/D3 load (default 3)
//	KOPILKA_CRASH_SEED     seed of the operations and fault moments
//	                       (default: the clock; every run logs it)
//	KOPILKA_TEST_POSTGRES  PostgreSQL server URL; without it the postgres
//	                       variants skip
//
// CI runs the short form; the nightly form is
//
//	KOPILKA_CRASH_SECONDS=60 KOPILKA_CRASH_RATE=500 go test ./internal/crashtest/ -count=1 -v
//
// `go test -short` skips the battery.
package crashtest
