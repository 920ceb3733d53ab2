package storage

import (
	"time"
)

// CustomerSearch selects a page of a tenant's customers; the filters that
// are set must all match. Personal data is sealed, so Phone (E.164),
// Email (any case) and Name match exactly, through blind indexes: Name is
// split into tokens (words; case and ё/е do not matter) that must each be
// one of the customer's last, first or middle name words.
type CustomerSearch struct {
	Phone string
	Email string
	Card  string // a card number of the customer, whatever its status
	Name  string
	Tag   string // one of the customer's tags, any case
	Group string
	After *CustomerCursor // the last customer of the previous page; nil for the first
	Limit int
}

// CustomerCursor is a position in the newest-first order of customers.
type CustomerCursor struct {
	CreatedAt time.Time
	ID        string
}
