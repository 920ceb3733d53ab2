package kopilka_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func TestCheckDigitOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method kopilka.CheckDigit
		body   string
		want   byte
		ok     bool
	}{
		// Published examples: ISO/IEC 7812 (Luhn), GS1 (EAN-13).
		{"LuhnWikipedia", kopilka.CheckLuhn, "7992739871", '3', true},
		{"LuhnTestVisa", kopilka.CheckLuhn, "411111111111111", '1', true},
		{"LuhnZero", kopilka.CheckLuhn, "0", '0', true},
		{"EANWikipedia", kopilka.CheckEAN13, "400638133393", '1', true},
		{"EANGS1", kopilka.CheckEAN13, "590123412345", '7', true},
		{"EANPadded", kopilka.CheckEAN13, "000046000001", '5', true},
		{"None", kopilka.CheckNone, "123", 0, false},
		{"Unknown", "mod11", "123", 0, false},
		{"NotDigits", kopilka.CheckLuhn, "12A4", 0, false},
		{"Empty", kopilka.CheckEAN13, "", 0, false},
	}
	for _, tt := range tests {
		got, ok := kopilka.CheckDigitOf(tt.method, tt.body)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: CheckDigitOf(%s, %q) = %q, %v, want %q, %v", tt.name, tt.method, tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckDigitCatchesTypos(t *testing.T) {
	t.Parallel()
	// Every single-digit change of a body changes its check digit, for
	// both methods; that is what makes a mistyped number fail.
	for _, m := range []kopilka.CheckDigit{kopilka.CheckLuhn, kopilka.CheckEAN13} {
		body := "460000123456"
		want, _ := kopilka.CheckDigitOf(m, body)
		for i := range len(body) {
			for d := byte('0'); d <= '9'; d++ {
				if d == body[i] {
					continue
				}
				typo := body[:i] + string(d) + body[i+1:]
				if got, _ := kopilka.CheckDigitOf(m, typo); got == want {
					t.Errorf("CheckDigitOf(%s, %q) = %q, the same as for %q", m, typo, got, body)
				}
			}
		}
	}
}

func TestCardRangeNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		r     kopilka.CardRange
		seq   int64
		want  string
		len   int
		first string
		last  string
	}{
		{"Mask", kopilka.CardRange{Prefix: "46", Start: 1, End: 999999, Width: 6, CheckDigit: kopilka.CheckNone},
			17, "46000017", 8, "46000001", "46999999"},
		{"NoPrefix", kopilka.CardRange{Start: 1, End: 9999, Width: 4, CheckDigit: kopilka.CheckNone},
			2, "0002", 4, "0001", "9999"},
		{"Luhn", kopilka.CardRange{Prefix: "46", Start: 1, End: 999999, Width: 6, CheckDigit: kopilka.CheckLuhn},
			1, "460000011", 9, "460000011", "469999999"},
		{"EAN13", kopilka.CardRange{Prefix: "2000", Start: 1, End: 99999999, Width: 8, CheckDigit: kopilka.CheckEAN13},
			1, "2000000000015", 13, "2000000000015", "2000999999994"},
		{"Letters", kopilka.CardRange{Prefix: "EC-", Start: 0, End: 99, Width: 2, CheckDigit: kopilka.CheckNone},
			7, "EC-07", 5, "EC-00", "EC-99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.r
			if got := r.Number(tt.seq); got != tt.want {
				t.Errorf("Number(%d) = %q, want %q", tt.seq, got, tt.want)
			}
			if got := r.Len(); got != tt.len {
				t.Errorf("Len() = %d, want %d", got, tt.len)
			}
			if first, last := r.Span(); first != tt.first || last != tt.last {
				t.Errorf("Span() = %q, %q, want %q, %q", first, last, tt.first, tt.last)
			}
			if seq, ok := r.Seq(tt.want); seq != tt.seq || !ok {
				t.Errorf("Seq(%q) = %d, %v, want %d, true", tt.want, seq, ok, tt.seq)
			}
			if r.BadCheckDigit(tt.want) {
				t.Errorf("BadCheckDigit(%q) = true for the range's own number", tt.want)
			}
		})
	}
}

func TestCardRangeSeqRefuses(t *testing.T) {
	t.Parallel()
	luhn := kopilka.CardRange{Prefix: "46", Start: 10, End: 500, Width: 6, CheckDigit: kopilka.CheckLuhn}
	plain := kopilka.CardRange{Prefix: "46", Start: 10, End: 500, Width: 6, CheckDigit: kopilka.CheckNone}
	tests := []struct {
		name     string
		r        kopilka.CardRange
		n        string
		badCheck bool // the number is the range's but for its check digit
	}{
		{"WrongCheckDigit", luhn, "460000172", true},
		{"CheckDigitLetter", luhn, "46000017X", false},
		{"BelowStart", luhn, "460000097", false},
		{"AboveEnd", plain, "46000501", false},
		{"OtherPrefix", plain, "47000017", false},
		{"Shorter", plain, "4600017", false},
		{"Longer", plain, "460000017", false},
		{"NotDigits", plain, "4600001A", false},
		{"Sign", plain, "46-00017", false},
	}
	for _, tt := range tests {
		if seq, ok := tt.r.Seq(tt.n); ok {
			t.Errorf("%s: Seq(%q) = %d, true, want false", tt.name, tt.n, seq)
		}
		if got := tt.r.BadCheckDigit(tt.n); got != tt.badCheck {
			t.Errorf("%s: BadCheckDigit(%q) = %v, want %v", tt.name, tt.n, got, tt.badCheck)
		}
	}
}

func TestValidateRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        kopilka.CardRange
		want      kopilka.CardRange // when valid
		wantField string
	}{
		{name: "Defaults", in: kopilka.CardRange{Prefix: "46", Start: 1, End: -1, Width: 6},
			want: kopilka.CardRange{Prefix: "46", Start: 1, End: 999999, Width: 6, CheckDigit: kopilka.CheckNone, Next: 1}},
		{name: "Bounded", in: kopilka.CardRange{Name: " Пластик ", Prefix: "46", Start: 0, End: 1000, Width: 4, CheckDigit: kopilka.CheckLuhn, Kind: "plastic"},
			want: kopilka.CardRange{Name: "Пластик", Prefix: "46", Start: 0, End: 1000, Width: 4, CheckDigit: kopilka.CheckLuhn, Kind: "plastic"}},
		{name: "EAN13", in: kopilka.CardRange{Prefix: "2000", Start: 1, End: -1, Width: 8, CheckDigit: kopilka.CheckEAN13},
			want: kopilka.CardRange{Prefix: "2000", Start: 1, End: 99999999, Width: 8, CheckDigit: kopilka.CheckEAN13, Next: 1}},
		{name: "Widest", in: kopilka.CardRange{Start: 1, End: -1, Width: 18},
			want: kopilka.CardRange{Start: 1, End: 999999999999999999, Width: 18, CheckDigit: kopilka.CheckNone, Next: 1}},
		{name: "EAN13TooShort", in: kopilka.CardRange{Prefix: "46", Start: 1, End: -1, Width: 6, CheckDigit: kopilka.CheckEAN13}, wantField: "width"},
		{name: "EAN13TooLong", in: kopilka.CardRange{Prefix: "46", Start: 1, End: -1, Width: 11, CheckDigit: kopilka.CheckEAN13}, wantField: "width"},
		{name: "UnknownCheckDigit", in: kopilka.CardRange{Start: 1, End: -1, Width: 6, CheckDigit: "mod11"}, wantField: "check_digit"},
		{name: "UnknownKind", in: kopilka.CardRange{Start: 1, End: -1, Width: 6, Kind: "virtual"}, wantField: "kind"},
		{name: "WidthZero", in: kopilka.CardRange{Start: 0, End: -1, Width: 0}, wantField: "width"},
		{name: "WidthTooLarge", in: kopilka.CardRange{Start: 1, End: -1, Width: 19}, wantField: "width"},
		{name: "StartNegative", in: kopilka.CardRange{Start: -1, End: -1, Width: 4}, wantField: "start"},
		{name: "StartTooLarge", in: kopilka.CardRange{Start: 10000, End: -1, Width: 4}, wantField: "start"},
		{name: "EndBelowStart", in: kopilka.CardRange{Start: 10, End: 9, Width: 4}, wantField: "end"},
		{name: "EndTooLarge", in: kopilka.CardRange{Start: 10, End: 10000, Width: 4}, wantField: "end"},
		{name: "PrefixTooLong", in: kopilka.CardRange{Prefix: strings.Repeat("4", 21), Start: 1, End: -1, Width: 4}, wantField: "prefix"},
		{name: "PrefixLowerCase", in: kopilka.CardRange{Prefix: "ec", Start: 1, End: -1, Width: 4}, wantField: "prefix"},
		{name: "PrefixSpace", in: kopilka.CardRange{Prefix: "4 6", Start: 1, End: -1, Width: 4}, wantField: "prefix"},
		{name: "PrefixLettersWithCheckDigit", in: kopilka.CardRange{Prefix: "EC", Start: 1, End: -1, Width: 4, CheckDigit: kopilka.CheckLuhn}, wantField: "prefix"},
		{name: "NameTooLong", in: kopilka.CardRange{Name: strings.Repeat("я", 201), Start: 1, End: -1, Width: 4}, wantField: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in
			err := kopilka.ValidateRange(&got)
			if tt.wantField != "" {
				if e := kopilka.AsError(err); e == nil || e.Code != kopilka.CodeInvalidRequest || e.Field != tt.wantField {
					t.Fatalf("ValidateRange(%+v) = %v, want invalid_request on %q", tt.in, err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateRange(%+v) = %v, want nil", tt.in, err)
			}
			tt.want.Next = tt.want.Start
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateRange(%+v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCardLookups(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    string
		want []string
	}{
		{"Plain", "46000017", []string{"46000017"}},
		{"ScannedEAN13", "4600000000015", []string{"4600000000015", "460000000001"}},
		{"ScannedPaddedEAN13", "0000460000015", []string{"0000460000015", "000046000001", "00046000001", "0046000001", "046000001", "46000001"}},
		{"AllZeros", "0000000000000", []string{"0000000000000", "000000000000", "00000000000", "0000000000", "000000000", "00000000", "0000000", "000000", "00000", "0000", "000", "00", "0"}},
		{"ThirteenDigitsBadCheck", "4600000000016", []string{"4600000000016"}},
		{"ThirteenLetters", "ABCDEFGHIJKLM", []string{"ABCDEFGHIJKLM"}},
		// A number whose range has a check digit is looked up in full:
		// without it, a typo would find somebody else's card.
		{"LuhnWithoutItsDigit", "46000001", []string{"46000001"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, kopilka.CardLookups(tt.v)); diff != "" {
			t.Errorf("%s: CardLookups(%q) mismatch (-want +got):\n%s", tt.name, tt.v, diff)
		}
	}
}

func TestOverlap(t *testing.T) {
	t.Parallel()
	rng := func(prefix string, start, end int64, width int, cd kopilka.CheckDigit) *kopilka.CardRange {
		return &kopilka.CardRange{Prefix: prefix, Start: start, End: end, Width: width, CheckDigit: cd}
	}
	none, luhn, ean := kopilka.CheckNone, kopilka.CheckLuhn, kopilka.CheckEAN13
	tests := []struct {
		name string
		a, b *kopilka.CardRange
		want bool
	}{
		{"Same", rng("46", 1, 999999, 6, none), rng("46", 1, 999999, 6, none), true},
		{"DisjointSequences", rng("46", 1, 1000, 6, none), rng("46", 1001, 999999, 6, none), false},
		{"TouchingSequences", rng("46", 1, 1000, 6, none), rng("46", 1000, 2000, 6, none), true},
		{"OtherPrefix", rng("46", 1, 999999, 6, none), rng("47", 1, 999999, 6, none), false},
		{"OtherLength", rng("46", 1, 999999, 6, none), rng("46", 1, 9999999, 7, none), false},
		// 46 + 7 digits makes 460000017, which 460 + 6 digits makes too.
		{"NestedPrefix", rng("46", 1, 9999999, 7, none), rng("460", 1, 999999, 6, none), true},
		// 46 + 0000001…0999999 never starts 461.
		{"NestedPrefixOutsideSequence", rng("46", 1, 999999, 7, none), rng("461", 0, 999999, 6, none), false},
		{"NestedPrefixLetters", rng("4", 0, 99, 3, none), rng("4A", 0, 99, 2, none), false},
		// A Luhn range and a plain one of the same length: the plain one
		// makes every last digit, so they meet.
		{"LuhnAgainstPlain", rng("46", 1, 999999, 6, luhn), rng("46", 1, 9999999, 7, none), true},
		// 460000011 is the only Luhn number with body 46000001; a plain
		// range holding only 460000012…460000019 misses it.
		{"LuhnAgainstPlainMissesCheckDigit", rng("46", 1, 1, 6, luhn), rng("46", 12, 19, 7, none), false},
		{"LuhnAgainstPlainHitsCheckDigit", rng("46", 1, 1, 6, luhn), rng("46", 11, 11, 7, none), true},
		{"LuhnAgainstLuhn", rng("46", 1, 500, 6, luhn), rng("46", 500, 999, 6, luhn), true},
		{"LuhnAgainstLuhnDisjoint", rng("46", 1, 500, 6, luhn), rng("46", 501, 999, 6, luhn), false},
		// One body, two check digits: 200000000001 makes 2000000000015
		// with EAN-13 and 2000000000016 with Luhn.
		{"EANAgainstLuhnOneBody", rng("2000", 1, 1, 8, ean), rng("2000", 1, 1, 8, luhn), false},
		{"EANAgainstLuhnMany", rng("2000", 1, 99999999, 8, ean), rng("2000", 1, 99999999, 8, luhn), true},
		{"EANAgainstPlain13", rng("2000", 1, 99999999, 8, ean), rng("20", 0, 99999999999, 11, none), true},
		{"EANAgainstOtherPrefix", rng("2000", 1, 99999999, 8, ean), rng("2001", 0, 999999999, 9, none), false},
	}
	for _, tt := range tests {
		for _, pair := range [][2]*kopilka.CardRange{{tt.a, tt.b}, {tt.b, tt.a}} {
			n, got := kopilka.Overlap(pair[0], pair[1])
			if got != tt.want {
				t.Errorf("%s: Overlap(%+v, %+v) = %q, %v, want %v", tt.name, *pair[0], *pair[1], n, got, tt.want)
				continue
			}
			if got && !both(pair[0], pair[1], n) {
				t.Errorf("%s: Overlap(%+v, %+v) = %q, which is not a number of both", tt.name, *pair[0], *pair[1], n)
			}
		}
	}
}

func both(a, b *kopilka.CardRange, n string) bool {
	_, inA := a.Seq(n)
	_, inB := b.Seq(n)
	return inA && inB
}

// numbers lists every number of a small range.
func numbers(r *kopilka.CardRange) map[string]bool {
	out := map[string]bool{}
	for s := r.Start; s <= r.End; s++ {
		out[r.Number(s)] = true
	}
	return out
}

// bruteOverlap is the oracle: some number in both ranges' lists.
func bruteOverlap(a, b *kopilka.CardRange) bool {
	na, nb := numbers(a), numbers(b)
	for n := range na {
		if nb[n] {
			return true
		}
	}
	return false
}

// smallRanges are ranges of at most 1,000 numbers, of a few lengths, with
// prefixes that nest in each other, and all three check digits.
func smallRanges(r *rand.Rand, n int) []*kopilka.CardRange {
	shapes := []struct {
		prefix string
		width  int
		cd     kopilka.CheckDigit
	}{
		{"4", 3, kopilka.CheckNone}, {"46", 2, kopilka.CheckNone}, {"", 4, kopilka.CheckNone}, {"4", 2, kopilka.CheckLuhn},
		{"46", 1, kopilka.CheckLuhn}, {"", 3, kopilka.CheckLuhn}, {"460", 1, kopilka.CheckNone}, {"4A", 2, kopilka.CheckNone},
		{"46000000", 4, kopilka.CheckEAN13}, {"460000000", 3, kopilka.CheckEAN13}, {"46000000", 4, kopilka.CheckLuhn},
		{"4600000", 6, kopilka.CheckNone}, {"46000000", 5, kopilka.CheckNone}, {"460000000", 4, kopilka.CheckNone},
	}
	var out []*kopilka.CardRange
	for range n {
		s := shapes[r.IntN(len(shapes))]
		hi := kopilka.MaxSeq(s.width)
		a := r.Int64N(hi + 1)
		b := min(hi, a+r.Int64N(1000))
		if r.IntN(3) == 0 { // some short ranges, where check digits decide
			b = min(hi, a+r.Int64N(3))
		}
		out = append(out, &kopilka.CardRange{Prefix: s.prefix, Start: min(a, b), End: max(a, b), Width: s.width, CheckDigit: s.cd})
	}
	return out
}

// TestOverlapAgainstBruteForce compares Overlap with listing both ranges'
// numbers, for many pairs of small ranges.
func TestOverlapAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rs := smallRanges(rand.New(rand.NewPCG(4, 6)), 60)
	sets := map[*kopilka.CardRange]map[string]bool{}
	for _, r := range rs {
		sets[r] = numbers(r)
	}
	oracle := func(a, b *kopilka.CardRange) bool {
		for n := range sets[a] {
			if sets[b][n] {
				return true
			}
		}
		return false
	}
	disagree := func(overlap func(a, b *kopilka.CardRange) bool) []string {
		var out []string
		for _, a := range rs {
			for _, b := range rs {
				if got, want := overlap(a, b), oracle(a, b); got != want {
					out = append(out, a.Number(a.Start)+"…"+a.Number(a.End)+" / "+b.Number(b.Start)+"…"+b.Number(b.End))
				}
			}
		}
		return out
	}
	seen := map[bool]int{}
	for _, a := range rs {
		for _, b := range rs {
			seen[oracle(a, b)]++
		}
	}
	if seen[true] < 100 || seen[false] < 100 {
		t.Fatalf("the pairs overlap %d times and not %d times; want plenty of both", seen[true], seen[false])
	}
	real := func(a, b *kopilka.CardRange) bool {
		n, ok := kopilka.Overlap(a, b)
		if ok && !both(a, b, n) {
			t.Errorf("Overlap = %q, not a number of both ranges", n)
		}
		return ok
	}
	if d := disagree(real); len(d) > 0 {
		t.Errorf("Overlap disagrees with the brute force on %d pairs, e.g. %s", len(d), d[0])
	}
	// Negative control: comparing prefixes and sequences but ignoring
	// lengths and check digits disagrees with the oracle.
	naive := func(a, b *kopilka.CardRange) bool {
		return a.Prefix == b.Prefix && a.Start <= b.End && b.Start <= a.End
	}
	if d := disagree(naive); len(d) == 0 {
		t.Error("a naive overlap agrees with the brute force on every pair; the comparison would catch nothing")
	}
}

// FuzzOverlap checks Overlap against the brute force on ranges the fuzzer
// makes, and the numbering round trip on both.
func FuzzOverlap(f *testing.F) {
	f.Add("46", uint8(2), uint16(0), uint16(99), uint8(0), "460", uint8(1), uint16(0), uint16(9), uint8(0))
	f.Add("4", uint8(3), uint16(5), uint16(700), uint8(1), "46", uint8(2), uint16(0), uint16(99), uint8(0))
	f.Add("460000000", uint8(3), uint16(0), uint16(999), uint8(2), "46000000", uint8(4), uint16(0), uint16(9999), uint8(1))
	cds := []kopilka.CheckDigit{kopilka.CheckNone, kopilka.CheckLuhn, kopilka.CheckEAN13}
	mk := func(p string, w uint8, s, e uint16, cd uint8) (*kopilka.CardRange, bool) {
		r := &kopilka.CardRange{Prefix: p, Width: int(w%4) + 1, Start: int64(s), End: int64(e), CheckDigit: cds[int(cd)%3]}
		if r.CheckDigit == kopilka.CheckEAN13 && r.Len() != 13 {
			r.CheckDigit = kopilka.CheckLuhn
		}
		r.Start, r.End = min(r.Start, kopilka.MaxSeq(r.Width)), min(r.End, kopilka.MaxSeq(r.Width))
		return r, kopilka.ValidateRange(&kopilka.CardRange{Prefix: r.Prefix, Width: r.Width, Start: r.Start, End: r.End, CheckDigit: r.CheckDigit}) == nil
	}
	f.Fuzz(func(t *testing.T, p1 string, w1 uint8, s1, e1 uint16, c1 uint8, p2 string, w2 uint8, s2, e2 uint16, c2 uint8) {
		a, okA := mk(p1, w1, s1, e1, c1)
		b, okB := mk(p2, w2, s2, e2, c2)
		if !okA || !okB {
			return
		}
		for _, r := range []*kopilka.CardRange{a, b} {
			for _, seq := range []int64{r.Start, r.End, (r.Start + r.End) / 2} {
				n := r.Number(seq)
				if got, ok := r.Seq(n); r.Start <= r.End && (!ok || got != seq || len(n) != r.Len()) {
					t.Fatalf("%+v: Seq(Number(%d) = %q) = %d, %v", *r, seq, n, got, ok)
				}
			}
		}
		n, got := kopilka.Overlap(a, b)
		if want := bruteOverlap(a, b); got != want {
			t.Fatalf("Overlap(%+v, %+v) = %q, %v, want %v", *a, *b, n, got, want)
		}
		if got && !both(a, b, n) {
			t.Fatalf("Overlap(%+v, %+v) = %q, not a number of both", *a, *b, n)
		}
	})
}

// FuzzCardLookups: the value itself comes first; every other lookup is
// the body of the value as a valid EAN-13, less leading zeros.
func FuzzCardLookups(f *testing.F) {
	f.Add("4600000000015")
	f.Add("0000460000015")
	f.Add("46000017")
	f.Fuzz(func(t *testing.T, v string) {
		got := kopilka.CardLookups(v)
		if len(got) == 0 || got[0] != v {
			t.Fatalf("CardLookups(%q) = %q, want %q first", v, got, v)
		}
		for i, n := range got[1:] {
			if len(v) != 13 || !strings.HasSuffix(v[:12], n) || strings.TrimLeft(v[:12][:12-len(n)], "0") != "" {
				t.Fatalf("CardLookups(%q)[%d] = %q, not the EAN body less leading zeros", v, i+1, n)
			}
			if d, ok := kopilka.CheckDigitOf(kopilka.CheckEAN13, v[:12]); !ok || d != v[12] {
				t.Fatalf("CardLookups(%q) = %q for a value that is no EAN-13", v, got)
			}
		}
	})
}
