package kopilka_test

import (
	"strings"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" means not a phone number
	}{
		{name: "RussianTrunkPrefixWithPunctuation", in: "8 (912) 345-67-89", want: "+79123456789"},
		{name: "InternationalWithSpaces", in: "+7 912 345 67 89", want: "+79123456789"},
		{name: "BareTenDigits", in: "9123456789", want: "+79123456789"},
		{name: "ElevenDigitsStartingWith7", in: "79123456789", want: "+79123456789"},
		{name: "ElevenDigitsStartingWith8", in: "89123456789", want: "+79123456789"},
		{name: "AlreadyE164", in: "+79123456789", want: "+79123456789"},
		{name: "Dots", in: "+7.912.345.67.89", want: "+79123456789"},
		{name: "TabsAndSurroundingSpace", in: " \t8\t912 345-67-89\n", want: "+79123456789"},
		{name: "TollFree", in: "8 800 555-35-35", want: "+78005553535"},
		{name: "ForeignLondon", in: "+44 20 7946 0958", want: "+442079460958"},
		{name: "ForeignShortest", in: "+1234 5678", want: "+12345678"},
		{name: "ForeignLongest", in: "+123 456 789 012 345", want: "+123456789012345"},
		{name: "Empty", in: ""},
		{name: "OnlySpaces", in: "   "},
		{name: "OnlyPlus", in: "+"},
		{name: "Junk", in: "call me maybe"},
		{name: "LettersInside", in: "8 912 345-67-8a"},
		{name: "CyrillicLetters", in: "8 912 345 67 8О"},
		{name: "ArabicIndicDigits", in: "٨٩١٢٣٤٥٦٧٨٩"},
		{name: "FullWidthDigits", in: "８９１２３４５６７８９"},
		{name: "DoublePlus", in: "++79123456789"},
		{name: "PlusInside", in: "8+9123456789"},
		{name: "Extension", in: "+7 912 345 67 89 ext 1"},
		{name: "Slash", in: "8/912/345/67/89"},
		{name: "TooShort", in: "12345"},
		{name: "NineDigits", in: "912345678"},
		{name: "TwelveDigitsNoPlus", in: "891234567890"},
		{name: "ElevenDigitsOtherFirst", in: "59123456789"},
		{name: "ForeignTooShort", in: "+1234567"},
		{name: "ForeignTooLong", in: "+1234567890123456"},
		{name: "ForeignLeadingZero", in: "+0441234567"},
		{name: "RussianTooShort", in: "+7 912 345 67 8"},
		{name: "RussianTooLong", in: "+7 912 345 67 890"},
		{name: "PlusSevenZero", in: "+70123456789"},
		{name: "EightZero", in: "80123456789"},
		{name: "TenDigitsLeadingZero", in: "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := kopilka.NormalizePhone(tt.in)
			if want := tt.want != ""; got != tt.want || ok != want {
				t.Errorf("NormalizePhone(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, want)
			}
		})
	}
}

// FuzzNormalizePhone checks the invariants of every accepted number: "+"
// and 8 to 15 digits, no leading zero, and normalising again changes
// nothing.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"8 (912) 345-67-89", "+7 912 345 67 89", "9123456789", "79123456789",
		"+44 20 7946 0958", "+70123456789", "junk", "", "+", "0123456789", "+1234567890123456", "٨٩١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := kopilka.NormalizePhone(in)
		if !ok {
			if out != "" {
				t.Fatalf("NormalizePhone(%q) = %q, false, want \"\" with false", in, out)
			}
			return
		}
		digits, hasPlus := strings.CutPrefix(out, "+")
		if !hasPlus || len(digits) < 8 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" || digits[0] == '0' {
			t.Fatalf("NormalizePhone(%q) = %q, want + and 8 to 15 digits, the first not 0", in, out)
		}
		if strings.HasPrefix(digits, "7") && (len(digits) != 11 || digits[1] == '0') {
			t.Fatalf("NormalizePhone(%q) = %q, want a Russian number to be +7 and ten digits not starting with 0", in, out)
		}
		again, ok := kopilka.NormalizePhone(out)
		if !ok || again != out {
			t.Fatalf("NormalizePhone(%q) = %q, %v, want %q, true (normalising is idempotent)", out, again, ok, out)
		}
	})
}
