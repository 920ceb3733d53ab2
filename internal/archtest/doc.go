// Package archtest holds the architecture tests: the import rules of
// STYLE.md rule 2 (dependencies point inward) and the package-comment rule
// of rule 15, checked over the output of `go list`. It has no code of its
// own.
package archtest
