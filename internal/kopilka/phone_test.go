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

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "Russian", in: "+79161234567", want: "+7 *** ***-45-67"},
		{name: "RussianTollFree", in: "+78005553535", want: "+7 *** ***-35-35"},
		{name: "Kazakhstan", in: "+77012345678", want: "+7 *** ***-56-78"},
		{name: "RussianTooShort", in: "+7916123456", want: "+7 ***** 3456"},
		{name: "NorthAmerica", in: "+12025550123", want: "+1 ****** 0123"},
		{name: "Germany", in: "+4930123456", want: "+49 **** 3456"},
		{name: "UK", in: "+442079460958", want: "+44 ****** 0958"},
		{name: "ThreeDigitCode", in: "+375291234567", want: "+375 ***** 4567"},
		{name: "ShortNational", in: "+67712345", want: "+677 **** 5"},
		{name: "FourNationalDigits", in: "+6771234", want: "+677 ****"},
		{name: "OneNationalDigit", in: "+491", want: "+49 *"},
		{name: "Longest", in: "+123456789012345", want: "+1 ********** 2345"},
		{name: "Empty", in: "", want: ""},
		{name: "OnlyPlus", in: "+", want: "***"},
		{name: "OnlyCountryCode", in: "+49", want: "***"},
		{name: "ShortThreeDigitCode", in: "+37", want: "***"},
		{name: "NoPlus", in: "79161234567", want: "***"},
		{name: "Formatted", in: "+7 916 123-45-67", want: "***"},
		{name: "LeadingZero", in: "+0441234567", want: "***"},
		{name: "Letters", in: "+7916abc4567", want: "***"},
		{name: "NonASCIIDigits", in: "+٧٩١٦١٢٣٤٥٦٧", want: "***"},
		{name: "InvalidUTF8", in: "+7\xff", want: "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := kopilka.MaskPhone(tt.in); got != tt.want {
				t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzMaskPhone checks that a masked phone gives nothing away beyond its
// country code and the last four digits: read for its digits and stars
// alone, it is one to three of the input's first digits, a star for each
// digit hidden, then at most four of its last digits, with at least four
// digits after the first ones starred (all of them when fewer). An input
// that is not "+" and digits shows no digit at all; "" stays "".
func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{"+79161234567", "+4930123456", "+442079460958", "+67712345", "+491", "+49", "+",
		"", "79161234567", "+7 916 123-45-67", "+0441234567", "+123456789012345", "+٧٩١٦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := kopilka.MaskPhone(in)
		if in == "" {
			if out != "" {
				t.Fatalf("MaskPhone(\"\") = %q, want \"\"", out)
			}
			return
		}
		skel := skeleton(out)
		if !strings.ContainsAny(skel, "0123456789") {
			return // nothing shown
		}
		d, ok := strings.CutPrefix(in, "+")
		if !ok || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("MaskPhone(%q) = %q, want no digits shown for what is not a phone", in, out)
		}
		for cc := 1; cc <= min(3, len(d)); cc++ {
			for last := 0; last <= min(4, len(d)-cc); last++ {
				hidden := len(d) - cc - last
				if hidden >= min(4, len(d)-cc) && skel == d[:cc]+strings.Repeat("*", hidden)+d[len(d)-last:] {
					return
				}
			}
		}
		t.Fatalf("MaskPhone(%q) = %q, want at most the country code and the last four digits shown, a star for each other digit", in, out)
	})
}

// skeleton returns the ASCII digits and stars of s, in order.
func skeleton(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' || s[i] == '*' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
