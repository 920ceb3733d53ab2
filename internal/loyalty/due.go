package loyalty

import (
	"context"
	"errors"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// DueResult counts what a RunDue pass did.
type DueResult struct {
	Customers int
	Activated int
	Expired   int64 // points burnt, hundredths
}

// RunDue activates lots whose activation time has come and expires lots
// whose expiry has passed, customer by customer, each in its own
// transaction under the customer's row lock. Several server processes may
// run it at once: the lock serialises them and a lot already processed is
// not processed again.
func (s *Service) RunDue(ctx context.Context, batch int) (DueResult, error) {
	var res DueResult
	if batch <= 0 {
		batch = 500
	}
	for {
		var due []storage.TenantCustomer
		err := s.db.Read(ctx, func(tx storage.Tx) error {
			var err error
			due, err = tx.DueCustomers(ctx, tx.Now(), batch)
			return err
		})
		if err != nil {
			return res, err
		}
		progress := false
		for _, tc := range due {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			var act int
			var exp int64
			err := s.db.Write(ctx, func(tx storage.Tx) error {
				var err error
				act, exp, err = dueCustomer(ctx, tx, tc)
				return err
			})
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return res, err
			}
			if exp > 0 {
				s.observed(&kopilka.Operation{Type: kopilka.OpExpiry, Status: kopilka.StatusComplete})
			}
			if act > 0 || exp > 0 {
				progress = true
				res.Customers++
				res.Activated += act
				res.Expired += exp
			}
		}
		if len(due) < batch || !progress {
			return res, nil
		}
	}
}

func dueCustomer(ctx context.Context, tx storage.Tx, tc storage.TenantCustomer) (int, int64, error) {
	c, err := tx.LockCustomer(ctx, tc.TenantID, tc.CustomerID)
	if err != nil {
		return 0, 0, err
	}
	now := tx.Now()
	lots, err := tx.CustomerLots(ctx, c.TenantID, c.ID, kopilka.LotInactive, kopilka.LotActive)
	if err != nil {
		return 0, 0, err
	}
	activated := 0
	debt := c.Debt
	for i := range lots {
		l := &lots[i]
		if l.State != kopilka.LotInactive || l.ActivatesAt.After(now) {
			continue
		}
		if err := tx.AddPostings(ctx, c.TenantID, l.OperationID, storage.PhaseActivate, ledger.Move(ledger.Pending, ledger.Available, c.ID, l.Remaining)); err != nil {
			return 0, 0, err
		}
		if err := tx.SetLotState(ctx, c.TenantID, l.ID, kopilka.LotActive); err != nil {
			return 0, 0, err
		}
		l.State = kopilka.LotActive
		if repay := min(debt, l.Remaining); repay > 0 {
			if err := tx.AddLotRemaining(ctx, c.TenantID, l.ID, -repay); err != nil {
				return 0, 0, err
			}
			l.Remaining -= repay
			debt -= repay
		}
		activated++
	}
	if debt != c.Debt {
		if err := tx.SetCustomerBalances(ctx, c.TenantID, c.ID, debt, c.PurchasesTotal); err != nil {
			return 0, 0, err
		}
	}
	var burnt int64
	for _, l := range lots {
		if l.State != kopilka.LotActive || l.Remaining == 0 || l.ExpiresAt == nil || l.ExpiresAt.After(now) {
			continue
		}
		if err := tx.AddLotRemaining(ctx, c.TenantID, l.ID, -l.Remaining); err != nil {
			return 0, 0, err
		}
		burnt += l.Remaining
	}
	if burnt > 0 {
		op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: c.TenantID, CustomerID: c.ID, Type: kopilka.OpExpiry,
			Status: kopilka.StatusComplete, Amount: -burnt, Message: "points expired"}
		if err := tx.InsertOperation(ctx, op, ledger.Move(ledger.Available, ledger.Expired, c.ID, burnt)); err != nil {
			return 0, 0, err
		}
	}
	return activated, burnt, nil
}

// Verify recomputes every balance of every tenant from the postings and
// returns the differences; none means the ledger is consistent.
func (s *Service) Verify(ctx context.Context) ([]ledger.Discrepancy, int, error) {
	var ids []string
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		ids, err = tx.ListTenantIDs(ctx)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var out []ledger.Discrepancy
	for _, id := range ids {
		err := s.db.Snapshot(ctx, func(tx storage.Tx) error {
			f, err := tx.VerifyFacts(ctx, id)
			if err != nil {
				return err
			}
			out = append(out, ledger.Verify(*f)...)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return out, len(ids), nil
}

// RunBirthdays pays the birthday bonus of every tenant whose programme has
// one: to customers whose birthday (in the programme's time zone) is
// birthday_days_before days from now, once per calendar year of the
// birthday. Customers born on 29 February are paid on 28 February in other
// years. Safe to run often and from several processes: a grant row per
// customer and year makes the payment happen once.
func (s *Service) RunBirthdays(ctx context.Context) (int, error) {
	var ids []string
	if err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		ids, err = tx.ListTenantIDs(ctx)
		return err
	}); err != nil {
		return 0, err
	}
	paid := 0
	for _, tenantID := range ids {
		n, err := s.birthdays(ctx, tenantID)
		paid += n
		if err != nil {
			return paid, err
		}
	}
	return paid, nil
}

func (s *Service) birthdays(ctx context.Context, tenantID string) (int, error) {
	var p *kopilka.Program
	if err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		p, err = s.program(ctx, tx, tenantID)
		return err
	}); err != nil || p.BirthdayBonus <= 0 {
		return 0, err
	}
	day := s.clock().In(p.Location()).AddDate(0, 0, p.BirthdayDaysBefore)
	mds := []string{day.Format("01-02")}
	if mds[0] == "02-28" && !isLeap(day.Year()) {
		mds = append(mds, "02-29")
	}
	period := day.Format("2006")
	paid := 0
	for {
		var due []storage.TenantCustomer
		if err := s.db.Read(ctx, func(tx storage.Tx) error {
			var err error
			due, err = tx.BirthdayCustomers(ctx, tenantID, mds, "birthday", period, 500)
			return err
		}); err != nil {
			return paid, err
		}
		for _, tc := range due {
			err := s.db.Write(storage.WithKey(ctx, tc.CustomerID), func(tx storage.Tx) error {
				c, err := tx.LockCustomer(ctx, tenantID, tc.CustomerID)
				if err != nil {
					return err
				}
				if c.ID != tc.CustomerID {
					return storage.ErrNotFound // merged meanwhile: the birthday was the merged record's
				}
				op := &kopilka.Operation{ID: kopilka.NewID("op"), TenantID: tenantID, CustomerID: c.ID, Type: kopilka.OpBonus,
					Status: kopilka.StatusComplete, Amount: p.BirthdayBonus, Message: "birthday bonus " + period}
				if err := tx.GrantBonus(ctx, tenantID, c.ID, "birthday", period, op.ID); err != nil {
					return err
				}
				return credit(ctx, tx, c, op, ledger.Issued, programTimes(p, tx.Now(), false))
			})
			switch {
			case err == nil:
				paid++
				s.observed(&kopilka.Operation{Type: kopilka.OpBonus, Status: kopilka.StatusComplete})
			case errors.Is(err, storage.ErrConflict):
				// Another process paid it meanwhile.
			case errors.Is(err, storage.ErrNotFound):
				// Merged or deleted meanwhile.
			default:
				return paid, err
			}
		}
		if len(due) < 500 {
			return paid, nil
		}
	}
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
