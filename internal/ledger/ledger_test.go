package ledger_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/ledger"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func at(days int) *time.Time {
	t := t0.AddDate(0, 0, days)
	return &t
}

func TestSpend(t *testing.T) {
	t.Parallel()
	// The same instant in another zone: a tie, broken by Seq.
	moscow := at(5).In(time.FixedZone("MSK", 3*3600))
	tests := []struct {
		name   string
		lots   []ledger.SpendableLot
		amount int64
		want   []ledger.Take
		wantOK bool
	}{
		{
			name: "SoonestExpiryFirst",
			lots: []ledger.SpendableLot{
				{ID: "late", Remaining: 100, ExpiresAt: at(30), Seq: 1},
				{ID: "soon", Remaining: 100, ExpiresAt: at(10), Seq: 2},
			},
			amount: 150,
			want:   []ledger.Take{{LotID: "soon", Amount: 100}, {LotID: "late", Amount: 50}},
			wantOK: true,
		},
		{
			name: "NeverExpiringLast",
			lots: []ledger.SpendableLot{
				{ID: "never", Remaining: 100, Seq: 1},
				{ID: "far", Remaining: 100, ExpiresAt: at(3650), Seq: 2},
			},
			amount: 150,
			want:   []ledger.Take{{LotID: "far", Amount: 100}, {LotID: "never", Amount: 50}},
			wantOK: true,
		},
		{
			name: "NeverExpiringByAge",
			lots: []ledger.SpendableLot{
				{ID: "newer", Remaining: 100, Seq: 7},
				{ID: "older", Remaining: 100, Seq: 3},
			},
			amount: 120,
			want:   []ledger.Take{{LotID: "older", Amount: 100}, {LotID: "newer", Amount: 20}},
			wantOK: true,
		},
		{
			name: "TieBySeq",
			lots: []ledger.SpendableLot{
				{ID: "second", Remaining: 100, ExpiresAt: at(5), Seq: 2},
				{ID: "first", Remaining: 100, ExpiresAt: &moscow, Seq: 1},
			},
			amount: 100,
			want:   []ledger.Take{{LotID: "first", Amount: 100}},
			wantOK: true,
		},
		{
			name: "WithinOneLot",
			lots: []ledger.SpendableLot{
				{ID: "a", Remaining: 1000, ExpiresAt: at(1), Seq: 1},
				{ID: "b", Remaining: 1000, ExpiresAt: at(2), Seq: 2},
			},
			amount: 1,
			want:   []ledger.Take{{LotID: "a", Amount: 1}},
			wantOK: true,
		},
		{
			name: "ExactlyEverything",
			lots: []ledger.SpendableLot{
				{ID: "a", Remaining: 30, ExpiresAt: at(1), Seq: 1},
				{ID: "b", Remaining: 70, Seq: 2},
			},
			amount: 100,
			want:   []ledger.Take{{LotID: "a", Amount: 30}, {LotID: "b", Amount: 70}},
			wantOK: true,
		},
		{
			name: "EmptyLotsSkipped",
			lots: []ledger.SpendableLot{
				{ID: "empty", Remaining: 0, ExpiresAt: at(1), Seq: 1},
				{ID: "broken", Remaining: -5, ExpiresAt: at(1), Seq: 2},
				{ID: "full", Remaining: 50, ExpiresAt: at(2), Seq: 3},
			},
			amount: 50,
			want:   []ledger.Take{{LotID: "full", Amount: 50}},
			wantOK: true,
		},
		{
			name: "Insufficient",
			lots: []ledger.SpendableLot{
				{ID: "a", Remaining: 30, ExpiresAt: at(1), Seq: 1},
				{ID: "b", Remaining: 69, Seq: 2},
			},
			amount: 100,
		},
		{name: "NoLots", amount: 1},
		{name: "Zero", lots: []ledger.SpendableLot{{ID: "a", Remaining: 10}}, amount: 0, wantOK: true},
		{name: "ZeroWithoutLots", amount: 0, wantOK: true},
		{name: "Negative", lots: []ledger.SpendableLot{{ID: "a", Remaining: 10}}, amount: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.lots)
			got, ok := ledger.Spend(in, tt.amount)
			if ok != tt.wantOK {
				t.Fatalf("Spend(%v, %d) ok = %v, want %v", tt.lots, tt.amount, ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Spend(%v, %d) mismatch (-want +got):\n%s", tt.lots, tt.amount, diff)
			}
			if diff := cmp.Diff(tt.lots, in); diff != "" {
				t.Errorf("Spend changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// spendKey is an independent statement of the spending order: expiry
// (never = last), then Seq.
func spendKey(l ledger.SpendableLot) (int64, int64) {
	if l.ExpiresAt == nil {
		return 1<<63 - 1, l.Seq
	}
	return l.ExpiresAt.UnixNano(), l.Seq
}

// randomLots makes up to n lots with small remainders, few distinct
// expiries (so ties happen) and some that never expire.
func randomLots(r *rand.Rand, n int) []ledger.SpendableLot {
	lots := make([]ledger.SpendableLot, n)
	seqs := r.Perm(n)
	for i := range lots {
		l := ledger.SpendableLot{ID: string(rune('A' + i)), Remaining: r.Int64N(1000) - 50, Seq: int64(seqs[i])}
		if r.IntN(4) > 0 {
			l.ExpiresAt = at(r.IntN(5))
		}
		lots[i] = l
	}
	return lots
}

// checkSpend holds Spend's properties for one input: it succeeds exactly
// when the lots suffice; the takes sum to the amount; no take exceeds its
// lot or touches an empty lot; every lot earlier in spending order than a
// lot taken from is emptied first.
func checkSpend(t *testing.T, lots []ledger.SpendableLot, amount int64) {
	t.Helper()
	var have int64
	byID := make(map[string]ledger.SpendableLot)
	for _, l := range lots {
		byID[l.ID] = l
		if l.Remaining > 0 {
			have += l.Remaining
		}
	}
	takes, ok := ledger.Spend(slices.Clone(lots), amount)
	wantOK := amount == 0 || (amount > 0 && have >= amount)
	if ok != wantOK {
		t.Fatalf("Spend(%v, %d) ok = %v, want %v (lots hold %d)", lots, amount, ok, wantOK, have)
	}
	if !ok || amount == 0 {
		if takes != nil {
			t.Fatalf("Spend(%v, %d) = %v, %v, want no takes", lots, amount, takes, ok)
		}
		return
	}
	var sum int64
	taken := make(map[string]int64)
	for _, tk := range takes {
		l, found := byID[tk.LotID]
		if !found || tk.Amount <= 0 || tk.Amount > l.Remaining || taken[tk.LotID] != 0 {
			t.Fatalf("Spend(%v, %d) take %+v: want a positive take, at most the lot's remaining, once per lot", lots, amount, tk)
		}
		taken[tk.LotID] = tk.Amount
		sum += tk.Amount
	}
	if sum != amount {
		t.Fatalf("Spend(%v, %d) takes sum to %d, want %d", lots, amount, sum, amount)
	}
	for _, a := range lots {
		for _, b := range lots {
			ae, as := spendKey(a)
			be, bs := spendKey(b)
			before := ae < be || (ae == be && as < bs)
			if before && taken[b.ID] > 0 && a.Remaining > 0 && taken[a.ID] != a.Remaining {
				t.Fatalf("Spend(%v, %d) took from %s while %s, earlier in spending order, kept %d", lots, amount, b.ID, a.ID, a.Remaining-taken[a.ID])
			}
		}
	}
}

func TestSpendProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		lots := randomLots(r, r.IntN(8))
		checkSpend(t, lots, r.Int64N(3000)-10)
	}
}

func FuzzSpend(f *testing.F) {
	f.Add(uint64(1), uint8(3), int64(500))
	f.Add(uint64(2), uint8(0), int64(0))
	f.Add(uint64(3), uint8(7), int64(-1))
	f.Add(uint64(4), uint8(12), int64(100000))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, amount int64) {
		r := rand.New(rand.NewPCG(seed, 0))
		checkSpend(t, randomLots(r, int(n%20)), amount)
	})
}

func TestSortForSpending(t *testing.T) {
	t.Parallel()
	lots := []ledger.SpendableLot{
		{ID: "never-new", Seq: 9},
		{ID: "late", ExpiresAt: at(9), Seq: 1},
		{ID: "never-old", Seq: 2},
		{ID: "soon-b", ExpiresAt: at(1), Seq: 5},
		{ID: "soon-a", ExpiresAt: at(1), Seq: 4},
	}
	ledger.SortForSpending(lots)
	var got []string
	for _, l := range lots {
		got = append(got, l.ID)
	}
	want := []string{"soon-a", "soon-b", "late", "never-old", "never-new"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SortForSpending order mismatch (-want +got):\n%s", diff)
	}
}

func TestMove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		from, to ledger.Account
		amount   int64
		want     []ledger.Posting
	}{
		{
			name: "Issue", from: ledger.Issued, to: ledger.Available, amount: 500,
			want: []ledger.Posting{{Account: ledger.Issued, Amount: -500}, {Account: ledger.Available, CustomerID: "cus_1", Amount: 500}},
		},
		{
			name: "Redeem", from: ledger.Held, to: ledger.Redeemed, amount: 300,
			want: []ledger.Posting{{Account: ledger.Held, CustomerID: "cus_1", Amount: -300}, {Account: ledger.Redeemed, Amount: 300}},
		},
		{
			name: "Activate", from: ledger.Pending, to: ledger.Available, amount: 7,
			want: []ledger.Posting{{Account: ledger.Pending, CustomerID: "cus_1", Amount: -7}, {Account: ledger.Available, CustomerID: "cus_1", Amount: 7}},
		},
		{
			name: "Expire", from: ledger.Available, to: ledger.Expired, amount: 1,
			want: []ledger.Posting{{Account: ledger.Available, CustomerID: "cus_1", Amount: -1}, {Account: ledger.Expired, Amount: 1}},
		},
	}
	for _, tt := range tests {
		got := ledger.Move(tt.from, tt.to, "cus_1", tt.amount)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Move(%s, %s, cus_1, %d) mismatch (-want +got):\n%s", tt.name, tt.from, tt.to, tt.amount, diff)
		}
		if err := ledger.Balanced(got); err != nil {
			t.Errorf("%s: Balanced(Move(...)) = %v, want nil", tt.name, err)
		}
	}
}

func TestBalanced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ps   []ledger.Posting
		ok   bool
	}{
		{name: "Empty", ok: true},
		{name: "TwoLegs", ps: ledger.Move(ledger.Issued, ledger.Available, "c", 10), ok: true},
		{name: "ThreeLegs", ps: []ledger.Posting{{Account: ledger.Issued, Amount: -10}, {Account: ledger.Available, Amount: 4}, {Account: ledger.Pending, Amount: 6}}, ok: true},
		{name: "OneLeg", ps: []ledger.Posting{{Account: ledger.Available, Amount: 10}}},
		{name: "OffByOne", ps: []ledger.Posting{{Account: ledger.Issued, Amount: -10}, {Account: ledger.Available, Amount: 11}}},
	}
	for _, tt := range tests {
		if err := ledger.Balanced(tt.ps); (err == nil) != tt.ok {
			t.Errorf("%s: Balanced(%v) = %v, want ok %v", tt.name, tt.ps, err, tt.ok)
		}
	}
}

func TestIsSystem(t *testing.T) {
	t.Parallel()
	for a, want := range map[ledger.Account]bool{
		ledger.Issued: true, ledger.Redeemed: true, ledger.Expired: true, ledger.Revoked: true,
		ledger.Available: false, ledger.Pending: false, ledger.Held: false, "": false,
	} {
		if got := a.IsSystem(); got != want {
			t.Errorf("Account(%q).IsSystem() = %v, want %v", a, got, want)
		}
	}
}
