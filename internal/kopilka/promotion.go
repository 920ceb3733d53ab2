package kopilka

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Promotion kinds.
const (
	// KindPromotion: a time-bound rule for goods (SKUs, categories) and
	// stores, open to every customer.
	KindPromotion = "promotion"
	// KindOffer: a personal offer for customers with a tag or in a group.
	KindOffer = "offer"
)

// Promotion is a time-bound accrual rule: a promotion for goods and
// stores, or a personal offer for customer tags and groups. It multiplies
// the tier accrual of the lines it covers and/or adds a percentage of
// their base.
type Promotion struct {
	ID           string     `json:"id"`
	TenantID     string     `json:"-"`
	Kind         string     `json:"kind"`
	Name         string     `json:"name"`
	StartsAt     time.Time  `json:"starts_at"`
	EndsAt       *time.Time `json:"ends_at"`
	SKUs         []string   `json:"skus"`
	Categories   []string   `json:"categories"`
	StoreIDs     []string   `json:"store_ids"`
	Tags         []string   `json:"tags"`
	Groups       []string   `json:"groups"`
	Multiplier   Percent    `json:"multiplier"`    // 2 doubles the tier accrual; 0 or 1: none
	ExtraPercent Percent    `json:"extra_percent"` // added percent of the line's base
	CreatedAt    time.Time  `json:"created_at"`
}

// Validate checks a promotion or offer and fills defaults.
func (p *Promotion) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || utf8.RuneCountInString(p.Name) > 200 {
		return Invalid("name", "a name of 1 to 200 characters is needed")
	}
	if p.StartsAt.IsZero() {
		return Invalid("starts_at", "when it starts is needed (RFC 3339)")
	}
	if p.EndsAt != nil && !p.EndsAt.After(p.StartsAt) {
		return Invalid("ends_at", "must be after starts_at")
	}
	if p.Multiplier < 0 || p.Multiplier > 100*PercentScale {
		return Invalid("multiplier", "must be from 1 to 100 (2 doubles the accrual)")
	}
	if p.Multiplier > 0 && p.Multiplier < PercentScale {
		return Invalid("multiplier", "must be at least 1 (2 doubles the accrual)")
	}
	if p.ExtraPercent < 0 || p.ExtraPercent > 100*PercentScale {
		return Invalid("extra_percent", "must be from 0 to 100")
	}
	if p.Multiplier <= PercentScale && p.ExtraPercent == 0 {
		return Invalid("multiplier", "give a multiplier above 1 or an extra_percent above 0, or the rule does nothing")
	}
	for _, l := range []struct {
		name string
		v    *[]string
	}{{"skus", &p.SKUs}, {"categories", &p.Categories}, {"store_ids", &p.StoreIDs}, {"tags", &p.Tags}, {"groups", &p.Groups}} {
		if *l.v == nil {
			*l.v = []string{}
		}
		if len(*l.v) > 10000 {
			return Invalid(l.name, "at most 10000 entries")
		}
	}
	if p.Kind == KindOffer && len(p.Tags) == 0 && len(p.Groups) == 0 {
		return Invalid("tags", "a personal offer needs customer tags or groups")
	}
	if p.Kind == KindPromotion && (len(p.Tags) > 0 || len(p.Groups) > 0) {
		return Invalid("tags", "tags and groups belong to personal offers (/v1/offers)")
	}
	return nil
}

// ActiveAt reports whether the rule runs at t.
func (p *Promotion) ActiveAt(t time.Time) bool {
	return !t.Before(p.StartsAt) && (p.EndsAt == nil || t.Before(*p.EndsAt))
}

// Covers reports whether the rule applies to a line of a receipt in a
// store for a customer. Empty lists mean "any".
func (p *Promotion) Covers(sku, category, storeID string, c *Customer) bool {
	if len(p.StoreIDs) > 0 && !slices.Contains(p.StoreIDs, storeID) {
		return false
	}
	if len(p.SKUs) > 0 || len(p.Categories) > 0 {
		if !slices.Contains(p.SKUs, sku) && (category == "" || !slices.Contains(p.Categories, category)) {
			return false
		}
	}
	if p.Kind == KindOffer {
		if c == nil {
			return false
		}
		in := (c.Group != "" && slices.Contains(p.Groups, c.Group))
		for _, t := range c.Tags {
			in = in || slices.Contains(p.Tags, t)
		}
		return in
	}
	return true
}

// String names the rule for messages.
func (p *Promotion) String() string { return fmt.Sprintf("%s %s (%s)", p.Kind, p.ID, p.Name) }
