// Package crashtest is Kopilka's crash and durability battery
// (RELIABILITY D1, D3 and D5). It builds the real kopilka binary, runs
// `kopilka serve` as a child process on a database of its own, drives a
// bounded load of idempotent point adjustments at it, kills the process
// with SIGKILL (D1 on PostgreSQL, D3 on SQLite) or stops it with SIGTERM
// (D5) at seeded moments, restarts it on the same address and database,
// and then checks the shared oracle:
//
//   - O1 exactly once: every acknowledged adjustment exists exactly once,
//     matched by its external_id; every acknowledged refusal does not exist
//     at all; no external_id is used twice; no outcome stays unknown.
//   - O2 conservation: each customer's balance equals the sum of the
//     acknowledged adjustments and the sum of its operations in the ledger
//     (the tenant-wide identity over the system accounts is verify's).
//   - O3 no overdraft: no balance is ever seen below zero.
//   - O5 `kopilka verify` exits 0; on SQLite `PRAGMA integrity_check`
//     answers ok after every crash and at the end.
//
// A fault is sent at a seeded moment, or up to a second later when no
// request is in flight then, so that it hits the server while it works.
// Every client operation carries a unique Idempotency-Key and a unique
// external_id; an unknown outcome (connection error, 503, other 5xx) is
// retried with the same key and body until it is definitive. A negative
// control replays an acknowledged operation under a new key and external_id
// and requires the oracle to flag it. D5 also stops the server while a
// client stalls in the middle of a request body: the exit must still come
// within 10 s of SIGTERM.
//
// Under -race the server binary is built with the race detector too, and
// a race it reports fails the test.
//
// The package holds only tests. Their settings, all optional:
//
//	KOPILKA_CRASH_SECONDS  load duration of D1/D3 in seconds (default 20)
//	KOPILKA_CRASH_RATE     target requests per second (default 300)
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
