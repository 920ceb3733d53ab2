// Package kopilka holds the vocabulary of the loyalty processing centre:
// tenants, keys, stores, customers, cards and card ranges (numbering,
// check digits, overlap), the programme, operations and lots, amounts in
// hundredths and the errors with stable codes. It does no I/O and imports
// only the standard library.
package kopilka
