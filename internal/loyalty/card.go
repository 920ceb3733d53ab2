package loyalty

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// RangeInput describes a card range to create.
type RangeInput struct {
	Name       string
	Prefix     string
	Start      *int64 // nil: 1
	End        *int64 // nil: the largest sequence Width digits hold
	Width      int
	CheckDigit kopilka.CheckDigit // "": none
	Kind       string             // "", plastic or electronic
	Idem       *Idem
}

// RangeInfo is a range with how much of it is used.
type RangeInfo struct {
	kopilka.CardRange
	// Issued counts the cards whose numbers belong to the range, however
	// they were bound (issued by the counter or given as plastic cards).
	Issued int64
	// Left counts the numbers the counter can still issue.
	Left int64
}

// cardsKey routes a tenant's card writes to one committer: issuing from
// a range serialises on the range's row anyway.
func cardsKey(ctx context.Context, tenantID string) context.Context {
	return storage.WithKey(ctx, "cards/"+tenantID)
}

// CreateCardRange adds a range of card numbers. A range that could make a
// number some card already has, or that another range can make, is a
// conflict whose message names the clashing numbers.
func (s *Service) CreateCardRange(ctx context.Context, tenantID string, in RangeInput) (*RangeInfo, error) {
	r := kopilka.CardRange{ID: kopilka.NewID("rng"), TenantID: tenantID, Name: in.Name, Prefix: in.Prefix,
		Start: 1, End: -1, Width: in.Width, CheckDigit: in.CheckDigit, Kind: in.Kind}
	if in.Start != nil {
		r.Start = *in.Start
	}
	if in.End != nil {
		if *in.End < 0 {
			return nil, kopilka.Invalid("end", "must not be negative")
		}
		r.End = *in.End
	}
	if err := kopilka.ValidateRange(&r); err != nil {
		return nil, err
	}
	v, err := s.write(cardsKey(ctx, tenantID), tenantID, in.Idem, func(tx storage.Tx) (any, error) {
		// The tenant's lock makes range creations take turns, so two
		// overlapping ranges cannot both pass the check.
		if err := tx.LockTenant(ctx, tenantID); err != nil {
			return nil, err
		}
		clashes, err := rangeClashes(ctx, tx, &r)
		if err != nil {
			return nil, err
		}
		if len(clashes) > 0 {
			return nil, &kopilka.Error{Code: kopilka.CodeConflict, Field: "prefix",
				Message: "the range overlaps numbers already issued or reserved: " + strings.Join(clashes, "; ")}
		}
		if err := tx.CreateCardRange(ctx, &r); err != nil {
			return nil, err
		}
		return &RangeInfo{CardRange: r, Left: r.End - r.Start + 1}, nil
	})
	if err != nil {
		return nil, wrapf(err, "create card range")
	}
	return v.(*RangeInfo), nil
}

// rangeClashes names what a new range would overlap: numbers another
// range can make, and cards already issued or imported (a few of them).
func rangeClashes(ctx context.Context, tx storage.Tx, r *kopilka.CardRange) ([]string, error) {
	ranges, err := tx.ListCardRanges(ctx, r.TenantID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range ranges {
		if n, ok := kopilka.Overlap(r, &o); ok {
			out = append(out, fmt.Sprintf("range %s (%s) makes %s too", o.ID, describe(&o), n))
		}
	}
	taken, err := rangeCards(ctx, tx, r, r.Start, r.End, 3)
	if err != nil {
		return nil, err
	}
	for _, n := range taken {
		out = append(out, "card "+n+" is already issued")
	}
	return out, nil
}

func describe(r *kopilka.CardRange) string {
	first, last := r.Span()
	return first + "…" + last
}

// rangeCards lists, up to limit, the numbers of the range's sequences
// from..to that cards already have.
func rangeCards(ctx context.Context, tx storage.Tx, r *kopilka.CardRange, from, to int64, limit int) ([]string, error) {
	const page = 500
	var out []string
	after := ""
	for {
		ns, err := tx.CardNumbers(ctx, r.TenantID, r.Number(from), r.Number(to), r.Len(), after, page)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if _, ok := r.Seq(n); ok {
				out = append(out, n)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if len(ns) < page {
			return out, nil
		}
		after = ns[len(ns)-1]
	}
}

// ListCardRanges lists the tenant's ranges, oldest first, with how many
// numbers each has given out and has left.
func (s *Service) ListCardRanges(ctx context.Context, tenantID string) ([]RangeInfo, error) {
	var out []RangeInfo
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		ranges, err := tx.ListCardRanges(ctx, tenantID)
		if err != nil {
			return err
		}
		out = make([]RangeInfo, 0, len(ranges))
		for _, r := range ranges {
			info := RangeInfo{CardRange: r}
			first, last := r.Span()
			if info.Issued, err = tx.CountCards(ctx, tenantID, first, last, r.Len()); err != nil {
				return err
			}
			if !r.Exhausted() {
				ahead, err := tx.CountCards(ctx, tenantID, r.Number(r.Next), last, r.Len())
				if err != nil {
					return err
				}
				info.Left = max(0, r.End-r.Next+1-ahead)
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// CardInput describes a card to issue.
type CardInput struct {
	Kind string // plastic (the default) or electronic
	// Number binds this number (a plastic card's, or the customer's id in
	// another system); empty takes the next free number of a range.
	Number string
	// RangeID names the range to take the number from; empty takes the
	// newest range for the kind that has numbers left, else the newest
	// range for both kinds.
	RangeID string
	Idem    *Idem
}

func (in *CardInput) validate() error {
	if in.Kind == "" {
		in.Kind = kopilka.CardPlastic
	}
	if in.Kind != kopilka.CardPlastic && in.Kind != kopilka.CardElectronic {
		return kopilka.Invalid("kind", "must be plastic or electronic")
	}
	return validateTarget(in.Number, in.RangeID)
}

func validateTarget(number, rangeID string) error {
	if number == "" {
		return nil
	}
	if rangeID != "" {
		return kopilka.Invalid("range_id", "give a number or a range_id, not both")
	}
	err := kopilka.ValidateCardNumber(number)
	if e := kopilka.AsError(err); e != nil {
		e.Field = "number"
	}
	return err
}

// IssueCard issues a card to a customer: the number given, or the next
// free number of a range. An electronic card also applies the tenant's
// settings: the customer's active plastic cards are replaced by it when
// ElectronicDeactivatesPlastic, and the customer joins
// ElectronicCardGroup when set. Every change goes to the customer's
// history.
func (s *Service) IssueCard(ctx context.Context, tenantID, customerID string, in CardInput) (*kopilka.Card, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	actor := kopilka.ActorFrom(ctx).Name
	v, err := s.write(cardsKey(ctx, tenantID), tenantID, in.Idem, func(tx storage.Tx) (any, error) {
		c, err := tx.GetCustomer(ctx, tenantID, customerID, true)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, &kopilka.Error{Code: kopilka.CodeNotFound, Message: "customer not found", Err: err}
		}
		if err != nil {
			return nil, err
		}
		card := &kopilka.Card{CustomerID: c.ID, Kind: in.Kind, Status: kopilka.CardActive}
		if err := newNumber(ctx, tx, tenantID, card, in.Number, in.RangeID, ""); err != nil {
			return nil, err
		}
		changes := []kopilka.CustomerChange{cardChange(c.ID, "", card.Number+" "+card.Kind+" "+card.Status, actor)}
		more, err := afterIssue(ctx, tx, c, card, actor)
		if err != nil {
			return nil, err
		}
		return card, tx.AddCustomerChanges(ctx, tenantID, append(changes, more...))
	})
	if err != nil {
		return nil, wrapf(err, "issue card")
	}
	return v.(*kopilka.Card), nil
}

// newNumber gives the card its number: the one given, else from the range
// named, else from the range the replaced card came from (prev), else
// from the newest range for the card's kind, else from the newest range
// for both kinds.
func newNumber(ctx context.Context, tx storage.Tx, tenantID string, card *kopilka.Card, number, rangeID, prev string) error {
	if number != "" {
		return bindNumber(ctx, tx, tenantID, card, number)
	}
	if rangeID != "" {
		r, err := tx.GetCardRange(ctx, tenantID, rangeID, true)
		if errors.Is(err, storage.ErrNotFound) {
			return kopilka.Invalid("range_id", "no card range %q", rangeID)
		}
		if err != nil {
			return err
		}
		if r.Kind != "" && r.Kind != card.Kind {
			return kopilka.Invalid("range_id", "range %s issues %s cards only", r.ID, r.Kind)
		}
		if ok, err := issueFrom(ctx, tx, r, card); ok || err != nil {
			return err
		}
		return &kopilka.Error{Code: kopilka.CodeConflict, Field: "range_id",
			Message: fmt.Sprintf("range %s (%s) has no numbers left; create another range", r.ID, describe(r))}
	}
	ranges, err := tx.ListCardRanges(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, r := range candidates(ranges, card.Kind, prev) {
		locked, err := tx.GetCardRange(ctx, tenantID, r.ID, true)
		if err != nil {
			return err
		}
		if ok, err := issueFrom(ctx, tx, locked, card); ok || err != nil {
			return err
		}
	}
	return &kopilka.Error{Code: kopilka.CodeConflict, Field: "number",
		Message: fmt.Sprintf("no card range has a number left for a %s card: create a range (POST /v1/card-ranges) or give the card's number", card.Kind)}
}

// candidates orders the ranges that may issue a card of the kind: the
// replaced card's own range, then the ranges for that kind, then the
// ranges for both kinds, each newest first; used-up ranges are left out.
func candidates(ranges []kopilka.CardRange, kind, prev string) []kopilka.CardRange {
	var own, forKind, forBoth []kopilka.CardRange
	for i := len(ranges) - 1; i >= 0; i-- {
		r := ranges[i]
		switch {
		case r.Exhausted() || r.Kind != "" && r.Kind != kind:
		case r.ID == prev:
			own = append(own, r)
		case r.Kind == kind:
			forKind = append(forKind, r)
		default:
			forBoth = append(forBoth, r)
		}
	}
	return slices.Concat(own, forKind, forBoth)
}

// misdigited returns the range a number looks like a number of but with a
// wrong check digit (a typo), or nil.
func misdigited(ranges []kopilka.CardRange, number string) *kopilka.CardRange {
	for i := range ranges {
		if ranges[i].BadCheckDigit(number) {
			return &ranges[i]
		}
	}
	return nil
}

// bindNumber gives the card a number the client chose.
func bindNumber(ctx context.Context, tx storage.Tx, tenantID string, card *kopilka.Card, number string) error {
	ranges, err := tx.ListCardRanges(ctx, tenantID)
	if err != nil {
		return err
	}
	if r := misdigited(ranges, number); r != nil {
		return kopilka.Invalid("number", "%s looks like a number of range %s, but its check digit is wrong: check the number on the card", number, r.ID)
	}
	card.Number = number
	err = tx.CreateCard(ctx, tenantID, card)
	if errors.Is(err, storage.ErrConflict) {
		return &kopilka.Error{Code: kopilka.CodeConflict, Field: "number", Message: fmt.Sprintf("card number %s is taken", number), Err: err}
	}
	return err
}

// issueWindow is how many numbers issueFrom checks per query for cards
// that already have them.
const issueWindow = 64

// issueFrom gives the card the next free number of r, whose row lock the
// caller holds, and moves the counter past it. It reports false when r
// has no free number left (and marks it used up).
func issueFrom(ctx context.Context, tx storage.Tx, r *kopilka.CardRange, card *kopilka.Card) (bool, error) {
	for r.Next <= r.End {
		to := min(r.End, r.Next+issueWindow-1)
		taken, err := rangeCards(ctx, tx, r, r.Next, to, issueWindow)
		if err != nil {
			return false, err
		}
		for seq := r.Next; seq <= to; seq++ {
			n := r.Number(seq)
			if contains(taken, n) {
				continue // a plastic card of the range was bound by its number
			}
			card.Number, card.RangeID = n, r.ID
			err := tx.CreateCard(ctx, r.TenantID, card)
			if errors.Is(err, storage.ErrConflict) {
				continue // bound by another write just now
			}
			if err != nil {
				return false, err
			}
			r.Next = seq + 1
			return true, tx.SetCardRangeNext(ctx, r.TenantID, r.ID, r.Next)
		}
		r.Next = to + 1
	}
	card.Number, card.RangeID = "", ""
	return false, tx.SetCardRangeNext(ctx, r.TenantID, r.ID, r.Next)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// afterIssue applies the tenant's settings for a newly issued electronic
// card and returns the changes to record.
func afterIssue(ctx context.Context, tx storage.Tx, c *kopilka.Customer, card *kopilka.Card, actor string) ([]kopilka.CustomerChange, error) {
	if card.Kind != kopilka.CardElectronic {
		return nil, nil
	}
	t, err := tx.GetTenant(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	var out []kopilka.CustomerChange
	if t.Settings.ElectronicDeactivatesPlastic {
		for _, k := range c.Cards {
			if k.Kind != kopilka.CardPlastic || k.Status != kopilka.CardActive {
				continue
			}
			if err := setStatus(ctx, tx, c.TenantID, &k, kopilka.CardReplaced, card.Number); err != nil {
				return nil, err
			}
			out = append(out, cardChange(c.ID, k.Number+" "+kopilka.CardActive, k.Number+" replaced by "+card.Number, actor))
		}
	}
	if g := t.Settings.ElectronicCardGroup; g != "" && c.Group != g {
		old := c.Group
		c.Group = g
		if err := tx.UpdateCustomer(ctx, c); err != nil {
			return nil, err
		}
		out = append(out, kopilka.CustomerChange{CustomerID: c.ID, Field: "group", OldValue: old, NewValue: g, Actor: actor})
	}
	return out, nil
}

// setStatus moves the card from its status to another; a card changed
// meanwhile by another write makes the write run again.
func setStatus(ctx context.Context, tx storage.Tx, tenantID string, k *kopilka.Card, to, replacedBy string) error {
	err := tx.SetCardStatus(ctx, tenantID, k.Number, k.Status, to, replacedBy)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("card %s changed meanwhile: %w", k.Number, storage.ErrRetry)
	}
	k.Status, k.ReplacedBy = to, replacedBy
	return err
}

func cardChange(customerID, old, new, actor string) kopilka.CustomerChange {
	return kopilka.CustomerChange{CustomerID: customerID, Field: "cards", OldValue: old, NewValue: new, Actor: actor}
}

// findCard finds a card by its number or a scan of its barcode.
func findCard(ctx context.Context, tx storage.Tx, tenantID, number string) (*kopilka.Card, error) {
	if number == "" || len(number) > 64 {
		return nil, &kopilka.Error{Code: kopilka.CodeNotFound, Message: "card not found"}
	}
	k, err := tx.FindCard(ctx, tenantID, kopilka.CardLookups(number))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &kopilka.Error{Code: kopilka.CodeNotFound, Message: "card not found", Err: err}
	}
	return k, err
}

// cardHolder resolves a card number or barcode scan to the holder of an
// active card; a blocked or replaced card identifies nobody, and says so.
func cardHolder(ctx context.Context, tx storage.Tx, tenantID, value string) (string, error) {
	k, err := tx.FindCard(ctx, tenantID, kopilka.CardLookups(value))
	if err != nil {
		return "", err
	}
	switch k.Status {
	case kopilka.CardActive:
		return k.CustomerID, nil
	case kopilka.CardReplaced:
		return "", &kopilka.Error{Code: kopilka.CodeCustomerNotFound, Field: "card",
			Message: fmt.Sprintf("card %s was replaced by card %s and identifies nobody", k.Number, k.ReplacedBy)}
	}
	return "", &kopilka.Error{Code: kopilka.CodeCustomerNotFound, Field: "card",
		Message: fmt.Sprintf("card %s is %s and identifies nobody until it is unblocked", k.Number, k.Status)}
}

// GetCard loads a card by its number or a scan of its barcode.
func (s *Service) GetCard(ctx context.Context, tenantID, number string) (*kopilka.Card, error) {
	var k *kopilka.Card
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		k, err = findCard(ctx, tx, tenantID, number)
		return err
	})
	return k, err
}

// CardView is a card as a card view shows it: with its holder and the
// holder's balance and tier. Holder and Balance are nil when the holder
// was deleted.
type CardView struct {
	Card    *kopilka.Card
	Holder  *kopilka.Customer
	Balance *kopilka.Balance
}

// ViewCard reads a card, in any status, with its holder and balance.
func (s *Service) ViewCard(ctx context.Context, tenantID, number string) (*CardView, error) {
	v := &CardView{}
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		if v.Card, err = findCard(ctx, tx, tenantID, number); err != nil {
			return err
		}
		v.Holder, v.Balance, err = s.customerBalance(ctx, tx, tenantID, v.Card.CustomerID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil // deleted on request: the card stays, its holder is gone
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// BlockCard blocks an active card: it no longer identifies its holder.
// Blocking a blocked card changes nothing; a replaced card is a conflict.
func (s *Service) BlockCard(ctx context.Context, tenantID, number string, idem *Idem) (*kopilka.Card, error) {
	return s.moveCard(ctx, tenantID, number, kopilka.CardActive, kopilka.CardBlocked, idem)
}

// UnblockCard makes a blocked card active again. Unblocking an active card
// changes nothing; a replaced card is a conflict.
func (s *Service) UnblockCard(ctx context.Context, tenantID, number string, idem *Idem) (*kopilka.Card, error) {
	return s.moveCard(ctx, tenantID, number, kopilka.CardBlocked, kopilka.CardActive, idem)
}

func (s *Service) moveCard(ctx context.Context, tenantID, number, from, to string, idem *Idem) (*kopilka.Card, error) {
	actor := kopilka.ActorFrom(ctx).Name
	v, err := s.write(cardsKey(ctx, tenantID), tenantID, idem, func(tx storage.Tx) (any, error) {
		k, err := findCard(ctx, tx, tenantID, number)
		if err != nil {
			return nil, err
		}
		switch k.Status {
		case to:
			return k, nil
		case kopilka.CardReplaced:
			return nil, &kopilka.Error{Code: kopilka.CodeConflict, Message: fmt.Sprintf("card %s was replaced by card %s for good", k.Number, k.ReplacedBy)}
		}
		if to == kopilka.CardActive {
			if err := holderLive(ctx, tx, tenantID, k); err != nil {
				return nil, err
			}
		}
		old := k.Number + " " + k.Status
		if err := setStatus(ctx, tx, tenantID, k, to, ""); err != nil {
			return nil, err
		}
		return k, tx.AddCustomerChanges(ctx, tenantID, []kopilka.CustomerChange{cardChange(k.CustomerID, old, k.Number+" "+to, actor)})
	})
	if err != nil {
		return nil, wrapf(err, "%s card", map[string]string{kopilka.CardBlocked: "block", kopilka.CardActive: "unblock"}[to])
	}
	return v.(*kopilka.Card), nil
}

// ReplaceInput describes the card that replaces another.
type ReplaceInput struct {
	Number  string // the new card's number; empty takes one from a range
	RangeID string // the range to take it from; empty: the old card's range, else the newest for the kind
	Idem    *Idem
}

// ReplaceCard issues a new card of the same kind to the same customer and
// retires the old one (status replaced, replaced_by the new number). The
// points stay where they are: they belong to the customer, not the card.
// A new electronic card applies the tenant's settings as IssueCard does.
func (s *Service) ReplaceCard(ctx context.Context, tenantID, number string, in ReplaceInput) (*kopilka.Card, error) {
	if err := validateTarget(in.Number, in.RangeID); err != nil {
		return nil, err
	}
	actor := kopilka.ActorFrom(ctx).Name
	v, err := s.write(cardsKey(ctx, tenantID), tenantID, in.Idem, func(tx storage.Tx) (any, error) {
		old, err := findCard(ctx, tx, tenantID, number)
		if err != nil {
			return nil, err
		}
		if old.Status == kopilka.CardReplaced {
			return nil, &kopilka.Error{Code: kopilka.CodeConflict, Message: fmt.Sprintf("card %s was already replaced by card %s", old.Number, old.ReplacedBy)}
		}
		if err := holderLive(ctx, tx, tenantID, old); err != nil {
			return nil, err
		}
		c, err := tx.GetCustomer(ctx, tenantID, old.CustomerID, true)
		if err != nil {
			return nil, err
		}
		card := &kopilka.Card{CustomerID: c.ID, Kind: old.Kind, Status: kopilka.CardActive}
		if err := newNumber(ctx, tx, tenantID, card, in.Number, in.RangeID, old.RangeID); err != nil {
			return nil, err
		}
		was := old.Number + " " + old.Status
		if err := setStatus(ctx, tx, tenantID, old, kopilka.CardReplaced, card.Number); err != nil {
			return nil, err
		}
		for i := range c.Cards {
			if c.Cards[i].Number == old.Number {
				c.Cards[i] = *old
			}
		}
		changes := []kopilka.CustomerChange{
			cardChange(c.ID, was, old.Number+" replaced by "+card.Number, actor),
			cardChange(c.ID, "", card.Number+" "+card.Kind+" "+card.Status, actor),
		}
		more, err := afterIssue(ctx, tx, c, card, actor)
		if err != nil {
			return nil, err
		}
		return card, tx.AddCustomerChanges(ctx, tenantID, append(changes, more...))
	})
	if err != nil {
		return nil, wrapf(err, "replace card")
	}
	return v.(*kopilka.Card), nil
}

// holderLive refuses with conflict to bring back into use a card whose
// holder was deleted on request: its cards stay blocked for good.
func holderLive(ctx context.Context, tx storage.Tx, tenantID string, k *kopilka.Card) error {
	st, err := tx.CustomerStatus(ctx, tenantID, k.CustomerID)
	if err != nil {
		return err
	}
	if st.Deleted {
		return &kopilka.Error{Code: kopilka.CodeConflict, Message: fmt.Sprintf("the holder of card %s was deleted on request; the card stays blocked", k.Number)}
	}
	return nil
}
