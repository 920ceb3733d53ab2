package kopilka_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// validProgram is a two-tier programme that passes Validate unchanged.
func validProgram() kopilka.Program {
	return kopilka.Program{
		Currency: "RUB",
		Tiers: []kopilka.Tier{
			{Name: "Base", Threshold: 0, AccrualPercent: 3 * kopilka.PercentScale, MaxRedeemPercent: 30 * kopilka.PercentScale},
			{Name: "Silver", Threshold: 1000000, AccrualPercent: 5 * kopilka.PercentScale, MaxRedeemPercent: 50 * kopilka.PercentScale},
		},
		AccrueOn:           "paid",
		MinLinePrice:       100,
		ExcludedSKUs:       []string{"TOBACCO-1"},
		ExcludedCategories: []string{"tobacco"},
		ExpiryDays:         365,
		Timezone:           "Europe/Moscow",
		Verification:       kopilka.Verification{Mode: "off", WaitSeconds: 45},
	}
}

func TestProgramValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(p *kopilka.Program)
		wantField string // "" means valid
	}{
		{name: "Valid", edit: func(p *kopilka.Program) {}},
		{name: "OneTier", edit: func(p *kopilka.Program) { p.Tiers = p.Tiers[:1] }},
		{name: "PercentsAtBounds", edit: func(p *kopilka.Program) {
			p.Tiers[0].AccrualPercent, p.Tiers[0].MaxRedeemPercent = 0, 0
			p.Tiers[1].AccrualPercent, p.Tiers[1].MaxRedeemPercent = 100*kopilka.PercentScale, 100*kopilka.PercentScale
		}},
		{name: "AccrueOnTotal", edit: func(p *kopilka.Program) { p.AccrueOn = "total" }},
		{name: "NeverExpires", edit: func(p *kopilka.Program) { p.ExpiryDays = 0 }},
		{name: "LongestDelays", edit: func(p *kopilka.Program) { p.ActivationDelayDays, p.ExpiryDays = 3650, 36500 }},
		{name: "VerificationAlways", edit: func(p *kopilka.Program) { p.Verification.Mode = "always" }},
		{name: "VerificationAbove", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:500" }},
		{name: "VerificationAboveZero", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:0" }},
		{name: "VerificationAboveMax", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:10000000000000" }},
		{name: "BirthdayDaysBefore", edit: func(p *kopilka.Program) { p.BirthdayDaysBefore = 60 }},
		{name: "OtherTimezone", edit: func(p *kopilka.Program) { p.Timezone = "Asia/Yekaterinburg" }},
		{name: "BonusesAtMax", edit: func(p *kopilka.Program) { p.WelcomeBonus, p.BirthdayBonus = kopilka.MaxAmount, kopilka.MaxAmount }},

		{name: "CurrencyLowerCase", edit: func(p *kopilka.Program) { p.Currency = "rub" }, wantField: "currency"},
		{name: "CurrencyTooLong", edit: func(p *kopilka.Program) { p.Currency = "RUBL" }, wantField: "currency"},
		{name: "NoTiers", edit: func(p *kopilka.Program) { p.Tiers = nil }, wantField: "tiers"},
		{name: "TooManyTiers", edit: func(p *kopilka.Program) {
			p.Tiers = nil
			for i := range 51 {
				p.Tiers = append(p.Tiers, kopilka.Tier{Name: "T", Threshold: kopilka.Amount(i)})
			}
		}, wantField: "tiers"},
		{name: "TierWithoutName", edit: func(p *kopilka.Program) { p.Tiers[1].Name = "  " }, wantField: "tiers[1].name"},
		{name: "TierNameTooLong", edit: func(p *kopilka.Program) { p.Tiers[0].Name = strings.Repeat("я", 101) }, wantField: "tiers[0].name"},
		{name: "FirstThresholdNotZero", edit: func(p *kopilka.Program) { p.Tiers[0].Threshold = 100 }, wantField: "tiers[0].threshold"},
		{name: "FirstThresholdNegative", edit: func(p *kopilka.Program) { p.Tiers[0].Threshold = -1 }, wantField: "tiers[0].threshold"},
		{name: "ThresholdsEqual", edit: func(p *kopilka.Program) { p.Tiers[1].Threshold = 0 }, wantField: "tiers[1].threshold"},
		{name: "ThresholdsFalling", edit: func(p *kopilka.Program) {
			p.Tiers = append(p.Tiers, kopilka.Tier{Name: "Gold", Threshold: 999999})
		}, wantField: "tiers[2].threshold"},
		{name: "AccrualNegative", edit: func(p *kopilka.Program) { p.Tiers[0].AccrualPercent = -1 }, wantField: "tiers[0].accrual_percent"},
		{name: "AccrualAboveHundred", edit: func(p *kopilka.Program) { p.Tiers[1].AccrualPercent = 100*kopilka.PercentScale + 1 }, wantField: "tiers[1].accrual_percent"},
		{name: "MaxRedeemNegative", edit: func(p *kopilka.Program) { p.Tiers[0].MaxRedeemPercent = -1 }, wantField: "tiers[0].max_redeem_percent"},
		{name: "MaxRedeemAboveHundred", edit: func(p *kopilka.Program) { p.Tiers[1].MaxRedeemPercent = 101 * kopilka.PercentScale }, wantField: "tiers[1].max_redeem_percent"},
		{name: "AccrueOnUnknown", edit: func(p *kopilka.Program) { p.AccrueOn = "gross" }, wantField: "accrue_on"},
		{name: "AccrueOnCase", edit: func(p *kopilka.Program) { p.AccrueOn = "Paid" }, wantField: "accrue_on"},
		{name: "MinLinePriceNegative", edit: func(p *kopilka.Program) { p.MinLinePrice = -1 }, wantField: "min_line_price"},
		{name: "ActivationNegative", edit: func(p *kopilka.Program) { p.ActivationDelayDays = -1 }, wantField: "activation_delay_days"},
		{name: "ActivationTooLong", edit: func(p *kopilka.Program) { p.ActivationDelayDays = 3651 }, wantField: "activation_delay_days"},
		{name: "ExpiryNegative", edit: func(p *kopilka.Program) { p.ExpiryDays = -1 }, wantField: "expiry_days"},
		{name: "ExpiryTooLong", edit: func(p *kopilka.Program) { p.ExpiryDays = 36501 }, wantField: "expiry_days"},
		{name: "WelcomeNegative", edit: func(p *kopilka.Program) { p.WelcomeBonus = -1 }, wantField: "welcome_bonus"},
		{name: "WelcomeTooLarge", edit: func(p *kopilka.Program) { p.WelcomeBonus = kopilka.MaxAmount + 1 }, wantField: "welcome_bonus"},
		{name: "BirthdayNegative", edit: func(p *kopilka.Program) { p.BirthdayBonus = -1 }, wantField: "birthday_bonus"},
		{name: "BirthdayDaysBeforeNegative", edit: func(p *kopilka.Program) { p.BirthdayDaysBefore = -1 }, wantField: "birthday_days_before"},
		{name: "BirthdayDaysBeforeTooMany", edit: func(p *kopilka.Program) { p.BirthdayDaysBefore = 61 }, wantField: "birthday_days_before"},
		{name: "TimezoneUnknown", edit: func(p *kopilka.Program) { p.Timezone = "Europe/Mordor" }, wantField: "timezone"},
		{name: "TimezoneAbbreviation", edit: func(p *kopilka.Program) { p.Timezone = "MSK" }, wantField: "timezone"},
		{name: "VerificationUnknown", edit: func(p *kopilka.Program) { p.Verification.Mode = "sometimes" }, wantField: "verification.mode"},
		{name: "VerificationCase", edit: func(p *kopilka.Program) { p.Verification.Mode = "Always" }, wantField: "verification.mode"},
		{name: "VerificationAboveEmpty", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:" }, wantField: "verification.mode"},
		{name: "VerificationAboveNegative", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:-1" }, wantField: "verification.mode"},
		{name: "VerificationAboveDecimal", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:5.5" }, wantField: "verification.mode"},
		{name: "VerificationAboveTooLarge", edit: func(p *kopilka.Program) { p.Verification.Mode = "above:10000000000001" }, wantField: "verification.mode"},
		{name: "VerificationAboveSpace", edit: func(p *kopilka.Program) { p.Verification.Mode = "above: 500" }, wantField: "verification.mode"},
		{name: "WaitNegative", edit: func(p *kopilka.Program) { p.Verification.WaitSeconds = -1 }, wantField: "verification.wait_seconds"},
		{name: "WaitTooLong", edit: func(p *kopilka.Program) { p.Verification.WaitSeconds = 3601 }, wantField: "verification.wait_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := validProgram()
			tt.edit(&p)
			err := p.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			e := kopilka.AsError(err)
			if e == nil || e.Code != kopilka.CodeInvalidRequest || e.Field != tt.wantField {
				t.Fatalf("Validate() = %v, want invalid_request on field %q", err, tt.wantField)
			}
		})
	}
}

func TestProgramValidateDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   kopilka.Program
		want kopilka.Program
	}{
		{
			name: "Minimal",
			in:   kopilka.Program{Tiers: []kopilka.Tier{{Name: "Base"}}},
			want: kopilka.Program{Currency: "RUB", Tiers: []kopilka.Tier{{Name: "Base"}}, AccrueOn: "paid",
				ExcludedSKUs: []string{}, ExcludedCategories: []string{}, Timezone: "Europe/Moscow",
				Verification: kopilka.Verification{Mode: "off", WaitSeconds: 45}},
		},
		{
			name: "WaitKeptWhenModeMissing",
			in:   kopilka.Program{Tiers: []kopilka.Tier{{Name: "Base"}}, Verification: kopilka.Verification{WaitSeconds: 10}},
			want: kopilka.Program{Currency: "RUB", Tiers: []kopilka.Tier{{Name: "Base"}}, AccrueOn: "paid",
				ExcludedSKUs: []string{}, ExcludedCategories: []string{}, Timezone: "Europe/Moscow",
				Verification: kopilka.Verification{Mode: "off", WaitSeconds: 10}},
		},
		{
			name: "DefaultProgramUnchanged",
			in:   kopilka.DefaultProgram(),
			want: kopilka.DefaultProgram(),
		},
		{
			name: "GivenValuesKept",
			in:   validProgram(),
			want: validProgram(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in
			if err := got.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() defaults mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerificationThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode    string
		want    kopilka.Amount
		wantErr bool
	}{
		{mode: "off", want: -1},
		{mode: "always", want: 0},
		{mode: "above:500", want: 500},
		{mode: "above:0", want: 0},
		{mode: "", wantErr: true},
		{mode: "above", wantErr: true},
		{mode: "above:1e3", wantErr: true},
	}
	for _, tt := range tests {
		got, err := kopilka.Verification{Mode: tt.mode}.Threshold()
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Verification{Mode: %q}.Threshold() = %d, %v, want %d, error %v", tt.mode, got, err, tt.want, tt.wantErr)
		}
		if tt.wantErr && kopilka.ErrorCode(err) != kopilka.CodeInvalidRequest {
			t.Errorf("Verification{Mode: %q}.Threshold() code = %q, want invalid_request", tt.mode, kopilka.ErrorCode(err))
		}
	}
}

func TestTierFor(t *testing.T) {
	t.Parallel()
	p := kopilka.Program{Tiers: []kopilka.Tier{
		{Name: "Base", Threshold: 0},
		{Name: "Silver", Threshold: 1000000},
		{Name: "Gold", Threshold: 5000000},
	}}
	tests := []struct {
		purchases kopilka.Amount
		want      string
	}{
		{-100, "Base"}, // a refund may take the sum below what was counted
		{0, "Base"},
		{999999, "Base"},
		{1000000, "Silver"},
		{4999999, "Silver"},
		{5000000, "Gold"},
		{kopilka.MaxAmount, "Gold"},
	}
	for _, tt := range tests {
		if got := p.TierFor(tt.purchases).Name; got != tt.want {
			t.Errorf("TierFor(%d) = %q, want %q", tt.purchases, got, tt.want)
		}
	}
	one := kopilka.DefaultProgram()
	if got := one.TierFor(kopilka.MaxAmount).Name; got != "Base" {
		t.Errorf("DefaultProgram().TierFor(%d) = %q, want %q", kopilka.MaxAmount, got, "Base")
	}
}
