package kopilka

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Program is a tenant's points programme (API-CORE "Programme").
type Program struct {
	Currency                  string       `json:"currency"`
	Tiers                     []Tier       `json:"tiers"`
	AccrueOn                  string       `json:"accrue_on"`
	RoundAccrualToWholePoints bool         `json:"round_accrual_to_whole_points"`
	MinLinePrice              Amount       `json:"min_line_price"`
	ExcludedSKUs              []string     `json:"excluded_skus"`
	ExcludedCategories        []string     `json:"excluded_categories"`
	ActivationDelayDays       int          `json:"activation_delay_days"`
	ExpiryDays                int          `json:"expiry_days"`
	WelcomeBonus              Amount       `json:"welcome_bonus"`
	BirthdayBonus             Amount       `json:"birthday_bonus"`
	BirthdayDaysBefore        int          `json:"birthday_days_before"` // pay it N days before the birthday
	Timezone                  string       `json:"timezone"`             // IANA zone of the tenant's days; default Europe/Moscow
	Verification              Verification `json:"verification"`
}

// Tier is a programme level reached by the accumulated purchase sum.
type Tier struct {
	Name             string  `json:"name"`
	Threshold        Amount  `json:"threshold"`
	AccrualPercent   Percent `json:"accrual_percent"`
	MaxRedeemPercent Percent `json:"max_redeem_percent"`
}

// Verification says when a redemption needs a code from the customer.
type Verification struct {
	Mode        string `json:"mode"` // "off", "always" or "above:<points>"
	WaitSeconds int    `json:"wait_seconds"`
}

// DefaultProgram is the programme of a tenant that has not set one:
// 1 point = 1 ruble, one tier earning 0% so nothing happens by accident.
func DefaultProgram() Program {
	return Program{
		Currency:           "RUB",
		Tiers:              []Tier{{Name: "Base", Threshold: 0, AccrualPercent: 0, MaxRedeemPercent: 0}},
		AccrueOn:           "paid",
		ExcludedSKUs:       []string{},
		ExcludedCategories: []string{},
		Verification:       Verification{Mode: "off", WaitSeconds: 45},
		Timezone:           "Europe/Moscow",
	}
}

// Validate checks the programme and fills defaults. Tiers must start at
// threshold 0 and rise strictly.
func (p *Program) Validate() error {
	if p.Currency == "" {
		p.Currency = "RUB"
	}
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency {
		return Invalid("currency", "must be an ISO 4217 code such as RUB")
	}
	if len(p.Tiers) == 0 {
		return Invalid("tiers", "at least one tier is needed")
	}
	if len(p.Tiers) > 50 {
		return Invalid("tiers", "at most 50 tiers")
	}
	for i, t := range p.Tiers {
		f := fmt.Sprintf("tiers[%d]", i)
		if strings.TrimSpace(t.Name) == "" || utf8.RuneCountInString(t.Name) > 100 {
			return Invalid(f+".name", "a tier needs a name of at most 100 characters")
		}
		if i == 0 && t.Threshold != 0 {
			return Invalid(f+".threshold", "the first tier must start at threshold 0")
		}
		if i > 0 && t.Threshold <= p.Tiers[i-1].Threshold {
			return Invalid(f+".threshold", "thresholds must rise strictly from tier to tier")
		}
		if t.AccrualPercent < 0 || t.AccrualPercent > 100*PercentScale {
			return Invalid(f+".accrual_percent", "must be from 0 to 100")
		}
		if t.MaxRedeemPercent < 0 || t.MaxRedeemPercent > 100*PercentScale {
			return Invalid(f+".max_redeem_percent", "must be from 0 to 100")
		}
	}
	switch p.AccrueOn {
	case "":
		p.AccrueOn = "paid"
	case "paid", "total":
	default:
		return Invalid("accrue_on", "must be paid or total")
	}
	if p.MinLinePrice < 0 {
		return Invalid("min_line_price", "may not be negative")
	}
	if p.ExcludedSKUs == nil {
		p.ExcludedSKUs = []string{}
	}
	if p.ExcludedCategories == nil {
		p.ExcludedCategories = []string{}
	}
	if len(p.ExcludedSKUs) > 10000 || len(p.ExcludedCategories) > 10000 {
		return Invalid("excluded_skus", "at most 10000 exclusions")
	}
	if p.ActivationDelayDays < 0 || p.ActivationDelayDays > 3650 {
		return Invalid("activation_delay_days", "must be from 0 to 3650")
	}
	if p.ExpiryDays < 0 || p.ExpiryDays > 36500 {
		return Invalid("expiry_days", "must be from 0 (never) to 36500")
	}
	if p.WelcomeBonus < 0 || p.WelcomeBonus > MaxAmount {
		return Invalid("welcome_bonus", "must be from 0 to %d", MaxAmount)
	}
	if p.BirthdayBonus < 0 || p.BirthdayBonus > MaxAmount {
		return Invalid("birthday_bonus", "must be from 0 to %d", MaxAmount)
	}
	if p.BirthdayDaysBefore < 0 || p.BirthdayDaysBefore > 60 {
		return Invalid("birthday_days_before", "must be from 0 to 60")
	}
	if p.Timezone == "" {
		p.Timezone = "Europe/Moscow"
	}
	if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
		return Invalid("timezone", "%q is not an IANA time zone such as Europe/Moscow", p.Timezone)
	}
	return p.Verification.validate()
}

// Location is the programme's time zone (Europe/Moscow when unset).
func (p *Program) Location() *time.Location {
	tz := p.Timezone
	if tz == "" {
		tz = "Europe/Moscow"
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc
	}
	return time.FixedZone("MSK", 3*3600)
}

func (v *Verification) validate() error {
	if v.Mode == "" {
		v.Mode = "off"
		if v.WaitSeconds == 0 {
			v.WaitSeconds = 45
		}
	}
	if _, err := v.Threshold(); err != nil {
		return err
	}
	if v.WaitSeconds < 0 || v.WaitSeconds > 3600 {
		return Invalid("verification.wait_seconds", "must be from 0 to 3600")
	}
	return nil
}

// Threshold returns the redemption (hundredths) above which a code is
// needed: -1 for "off", 0 for "always".
func (v Verification) Threshold() (Amount, error) {
	switch v.Mode {
	case "off":
		return -1, nil
	case "always":
		return 0, nil
	}
	s, ok := strings.CutPrefix(v.Mode, "above:")
	if ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && n >= 0 && n <= MaxAmount {
			return n, nil
		}
	}
	return 0, Invalid("verification.mode", "must be off, always or above:<points in hundredths>")
}

// TierFor returns the tier reached by the purchase sum: the one with the
// highest threshold not above it.
func (p *Program) TierFor(purchases Amount) Tier {
	t := p.Tiers[0]
	for _, x := range p.Tiers[1:] {
		if x.Threshold <= purchases {
			t = x
		}
	}
	return t
}

// MaxAmount bounds every amount a client may send: 10^13 hundredths
// (100 billion), far above any receipt, far below int64 overflow in products.
const MaxAmount Amount = 10_000_000_000_000
