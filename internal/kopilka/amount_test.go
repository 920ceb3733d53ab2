package kopilka_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func TestParsePercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    kopilka.Percent
		wantErr bool
	}{
		{name: "Zero", in: "0", want: 0},
		{name: "Whole", in: "30", want: 300000},
		{name: "Hundred", in: "100", want: 1000000},
		{name: "OneDecimal", in: "2.5", want: 25000},
		{name: "TrailingZeros", in: "2.50", want: 25000},
		{name: "FourDecimals", in: "33.3333", want: 333333},
		{name: "Smallest", in: "0.0001", want: 1},
		{name: "ZerosBeyondFourDecimals", in: "1.000000", want: 10000},
		{name: "Largest", in: "1000000", want: 1000000 * kopilka.PercentScale},
		{name: "FiveDecimals", in: "0.00001", wantErr: true},
		{name: "FiveSignificantDecimals", in: "2.12345", wantErr: true},
		{name: "Negative", in: "-1", wantErr: true},
		{name: "NegativeZero", in: "-0", wantErr: true},
		{name: "NegativeFraction", in: "-0.5", wantErr: true},
		{name: "Exponent", in: "1e2", wantErr: true},
		{name: "ExponentUpper", in: "1E2", wantErr: true},
		{name: "ExponentInFraction", in: "2.5e1", wantErr: true},
		{name: "NegativeExponent", in: "25e-1", wantErr: true},
		{name: "ExplicitPlus", in: "+5", wantErr: true},
		{name: "Empty", in: "", wantErr: true},
		{name: "OnlyDot", in: ".", wantErr: true},
		{name: "NoWholePart", in: ".5", wantErr: true},
		{name: "TwoDots", in: "1.2.3", wantErr: true},
		{name: "Letters", in: "abc", wantErr: true},
		{name: "Hex", in: "0x10", wantErr: true},
		{name: "Underscore", in: "1_000", wantErr: true},
		{name: "LeadingSpace", in: " 5", wantErr: true},
		{name: "TrailingSpace", in: "5 ", wantErr: true},
		{name: "SignInFraction", in: "1.-5", wantErr: true},
		{name: "Quoted", in: `"5"`, wantErr: true},
		{name: "TooLarge", in: "1000001", wantErr: true},
		{name: "Overflow", in: "99999999999999999999", wantErr: true},
		{name: "TooLong", in: "0.000000000000000000001", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := kopilka.ParsePercent(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParsePercent(%q) = %d, %v, want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPercentString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   kopilka.Percent
		want string
	}{
		{0, "0"},
		{1, "0.0001"},
		{10, "0.001"},
		{25000, "2.5"},
		{300000, "30"},
		{333333, "33.3333"},
		{1000000, "100"},
		{1000005, "100.0005"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Percent(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestPercentJSON(t *testing.T) {
	t.Parallel()
	type tier struct {
		P kopilka.Percent `json:"p"`
	}
	tests := []struct {
		name    string
		in      string
		want    kopilka.Percent
		out     string // the JSON it marshals back to
		wantErr bool
	}{
		{name: "Whole", in: `{"p": 3}`, want: 30000, out: `{"p":3}`},
		{name: "Decimal", in: `{"p": 2.5}`, want: 25000, out: `{"p":2.5}`},
		{name: "TrailingZeros", in: `{"p": 2.500}`, want: 25000, out: `{"p":2.5}`},
		{name: "FourDecimals", in: `{"p": 0.0001}`, want: 1, out: `{"p":0.0001}`},
		{name: "FiveDecimals", in: `{"p": 0.00001}`, wantErr: true},
		{name: "Exponent", in: `{"p": 1e1}`, wantErr: true},
		{name: "Negative", in: `{"p": -1}`, wantErr: true},
		{name: "String", in: `{"p": "2.5"}`, wantErr: true},
		{name: "Bool", in: `{"p": true}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got tier
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				var te *json.UnmarshalTypeError
				if !errors.As(err, &te) {
					t.Fatalf("json.Unmarshal(%s) error = %v, want an *json.UnmarshalTypeError", tt.in, err)
				}
				return
			}
			if err != nil || got.P != tt.want {
				t.Fatalf("json.Unmarshal(%s) = %d, %v, want %d, nil", tt.in, got.P, err, tt.want)
			}
			b, err := json.Marshal(got)
			if err != nil || string(b) != tt.out {
				t.Fatalf("json.Marshal(%d) = %s, %v, want %s", got.P, b, err, tt.out)
			}
		})
	}
}

// TestPercentJSONProgram round-trips a whole programme through JSON: every
// percentage comes back exactly.
func TestPercentJSONProgram(t *testing.T) {
	t.Parallel()
	in := kopilka.DefaultProgram()
	in.Tiers = []kopilka.Tier{
		{Name: "Base", Threshold: 0, AccrualPercent: 25000, MaxRedeemPercent: 300000},
		{Name: "Silver", Threshold: 1000000, AccrualPercent: 1, MaxRedeemPercent: 1000000},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("json.Marshal(program) error = %v", err)
	}
	if !strings.Contains(string(b), `"accrual_percent":2.5`) {
		t.Errorf("json.Marshal(program) = %s, want accrual_percent written as the number 2.5", b)
	}
	var out kopilka.Program
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal(%s) error = %v", b, err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("programme JSON round trip mismatch (-want +got):\n%s", diff)
	}
}

// FuzzParsePercent checks that parsing never panics, that whatever parses
// prints back to a string that parses to the same value, and that
// negatives, exponents and more than four significant decimals never parse.
func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"0", "2.5", "30", "100", "0.0001", "0.00001", "-1", "1e2", "", ".", "1.000000",
		"1000000", "1000001", "99999999999999999999", "00.5", "+1", "1.-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := kopilka.ParsePercent(s)
		if err != nil {
			if p != 0 {
				t.Fatalf("ParsePercent(%q) = %d, %v, want 0 with the error", s, p, err)
			}
			return
		}
		if p < 0 {
			t.Fatalf("ParsePercent(%q) = %d, want a non-negative percentage", s, p)
		}
		if strings.ContainsAny(s, "-+eE") {
			t.Fatalf("ParsePercent(%q) = %d, nil, want an error for a sign or an exponent", s, p)
		}
		if _, frac, ok := strings.Cut(s, "."); ok && len(strings.TrimRight(frac, "0")) > 4 {
			t.Fatalf("ParsePercent(%q) = %d, nil, want an error for more than four decimals", s, p)
		}
		back, err := kopilka.ParsePercent(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePercent(%q) = %d, %v, want %d (the round trip of %q)", p.String(), back, err, p, s)
		}
		var q kopilka.Percent
		b, _ := json.Marshal(p)
		if err := json.Unmarshal(b, &q); err != nil || q != p {
			t.Fatalf("json round trip of %d via %s = %d, %v, want %d", p, b, q, err, p)
		}
	})
}
