package loyalty

import (
	"context"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/calc"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// promotionCache keeps each tenant's running rules for programTTL.
type promotionCache struct {
	mu sync.Mutex
	m  map[string]cachedPromotions
}

type cachedPromotions struct {
	rules []kopilka.Promotion
	at    time.Time
}

func (c *promotionCache) forget(tenantID string) {
	c.mu.Lock()
	delete(c.m, tenantID)
	c.mu.Unlock()
}

// rules returns the tenant's promotions and offers that have not ended,
// from the cache when it is fresh. The result is shared: do not change it.
func (s *Service) rules(ctx context.Context, tx storage.Tx, tenantID string) ([]kopilka.Promotion, error) {
	now := s.clock()
	s.promos.mu.Lock()
	cp, ok := s.promos.m[tenantID]
	s.promos.mu.Unlock()
	if ok && now.Sub(cp.at) < programTTL && !now.Before(cp.at) {
		return cp.rules, nil
	}
	rules, err := tx.ListPromotions(ctx, tenantID, "", now)
	if err != nil {
		return nil, err
	}
	s.promos.mu.Lock()
	if s.promos.m == nil {
		s.promos.m = map[string]cachedPromotions{}
	}
	s.promos.m[tenantID] = cachedPromotions{rules: rules, at: now}
	s.promos.mu.Unlock()
	return rules, nil
}

// CreatePromotion adds a promotion (kind promotion) or a personal offer
// (kind offer).
func (s *Service) CreatePromotion(ctx context.Context, tenantID string, p *kopilka.Promotion, idem *Idem) error {
	p.ID, p.TenantID = kopilka.NewID("prm"), tenantID
	if p.Kind == kopilka.KindOffer {
		p.ID = kopilka.NewID("ofr")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	_, err := s.write(ctx, tenantID, idem, func(tx storage.Tx) (any, error) {
		// A store of another tenant, or none, would make a rule that
		// never applies: refuse it, naming the store.
		for _, id := range p.StoreIDs {
			if _, err := tx.GetStore(ctx, tenantID, id); err != nil {
				if errIs(err, storage.ErrNotFound) {
					return nil, kopilka.Invalid("store_ids", "no store %q", id)
				}
				return nil, err
			}
		}
		return p, tx.CreatePromotion(ctx, p)
	})
	s.promos.forget(tenantID)
	return err
}

// Promotions lists the rules of a kind that have not ended.
func (s *Service) Promotions(ctx context.Context, tenantID, kind string) ([]kopilka.Promotion, error) {
	var out []kopilka.Promotion
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.ListPromotions(ctx, tenantID, kind, tx.Now())
		return err
	})
	return out, err
}

// GetPromotion loads one rule.
func (s *Service) GetPromotion(ctx context.Context, tenantID, kind, id string) (*kopilka.Promotion, error) {
	var p *kopilka.Promotion
	err := s.db.Read(ctx, func(tx storage.Tx) error {
		var err error
		p, err = tx.GetPromotion(ctx, tenantID, kind, id)
		return err
	})
	return p, notFound(err, kopilka.CodeNotFound, kind)
}

// DeletePromotion removes a rule; receipts already computed keep what it
// gave them.
func (s *Service) DeletePromotion(ctx context.Context, tenantID, kind, id string) error {
	err := s.db.Write(ctx, func(tx storage.Tx) error { return tx.DeletePromotion(ctx, tenantID, kind, id) })
	s.promos.forget(tenantID)
	return notFound(err, kopilka.CodeNotFound, kind)
}

// extraAccrual builds the per-line bonus of the running rules, in the
// documented stacking order: the tier accrual of a line first; then the
// highest multiplier among the promotions covering it (rules do not
// compound: ×2 and ×3 give ×3), applied to the tier accrual; then the
// extra percents of every covering promotion and offer, added up and
// taken of the line's base. It records on each line what it added.
func extraAccrual(rules []kopilka.Promotion, now time.Time, storeID string, c *kopilka.Customer, lines []kopilka.PurchaseLine) func(int, int64, int64) int64 {
	var running []*kopilka.Promotion
	for i := range rules {
		if rules[i].ActiveAt(now) {
			running = append(running, &rules[i])
		}
	}
	if len(running) == 0 {
		return nil
	}
	return func(i int, base, accrued int64) int64 {
		l := &lines[i]
		var mult, pct kopilka.Percent
		var ids []string
		for _, r := range running {
			if !r.Covers(l.SKU, l.Category, storeID, c) {
				continue
			}
			ids = append(ids, r.ID)
			mult = max(mult, r.Multiplier)
			pct += r.ExtraPercent
		}
		var extra int64
		if mult > kopilka.PercentScale {
			extra += mulFloor(accrued, int64(mult-kopilka.PercentScale), kopilka.PercentScale)
		}
		if pct > 0 {
			extra += mulFloor(base, int64(pct), 100*kopilka.PercentScale)
		}
		if extra > 0 {
			l.Promotions = ids
		}
		return extra
	}
}

// mulFloor is floor(a·b/c), exact; 0 for figures out of range (they
// cannot come from a validated receipt).
func mulFloor(a, b, c int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	v, _ := calc.MulFloor(a, b, c)
	return v
}
