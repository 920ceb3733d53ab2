// Package e2e holds end-to-end tests of the real program: they run
// cli.Run in-process ("serve", "tenant create", "verify") against a SQLite
// file and a PostgreSQL schema and drive the JSON API over HTTP, proving
// the promises of RELIABILITY.md that only the whole program can keep
// (C1, I1–I4, I7, S1–S4, S6) and the command-line contract of API-CORE.
// The package has no non-test code.
package e2e
