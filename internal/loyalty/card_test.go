package loyalty_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
)

func i64(v int64) *int64 { return &v }

func (e *env) cardRange(t *testing.T, in loyalty.RangeInput) *loyalty.RangeInfo {
	t.Helper()
	r, err := e.svc.CreateCardRange(e.ctx, e.tenant.ID, in)
	if err != nil {
		t.Fatalf("CreateCardRange(%+v) = %v", in, err)
	}
	return r
}

func (e *env) issue(t *testing.T, customerID string, in loyalty.CardInput) *kopilka.Card {
	t.Helper()
	k, err := e.svc.IssueCard(e.ctx, e.tenant.ID, customerID, in)
	if err != nil {
		t.Fatalf("IssueCard(%s, %+v) = %v", customerID, in, err)
	}
	return k
}

// wantRefusal fails the test unless err is an *kopilka.Error with the
// code and field, whose message names every one of names.
func wantRefusal(t *testing.T, what string, err error, code kopilka.Code, field string, names ...string) {
	t.Helper()
	ke := kopilka.AsError(err)
	if ke == nil || ke.Code != code || ke.Field != field {
		t.Fatalf("%s = %v, want %s on %q", what, err, code, field)
	}
	for _, n := range names {
		if !strings.Contains(ke.Message, n) {
			t.Errorf("%s message %q does not name %s", what, ke.Message, n)
		}
	}
}

// calculate prices a one-line receipt for the card holder.
func (e *env) calculate(ref loyalty.Ref) (*kopilka.Purchase, error) {
	return e.svc.Calculate(e.ctx, e.tenant.ID, loyalty.PurchaseInput{Customer: ref,
		Lines: []loyalty.LineInput{{SKU: "BREAD", Quantity: 1000, Price: 5000}}})
}

func TestCardRangeNumbers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		tests := []struct {
			name string
			in   loyalty.RangeInput
			want []string // the first numbers it issues
		}{
			{"Mask", loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6}, []string{"46000001", "46000002", "46000003"}},
			{"StartAndLuhn", loyalty.RangeInput{Prefix: "47", Start: i64(98), Width: 4, CheckDigit: kopilka.CheckLuhn},
				[]string{"4700985", "4700993", "4701009"}},
			{"EAN13", loyalty.RangeInput{Prefix: "2000", Start: i64(1), Width: 8, CheckDigit: kopilka.CheckEAN13},
				[]string{"2000000000015", "2000000000022", "2000000000039"}},
			{"NoPrefixStartZero", loyalty.RangeInput{Start: i64(0), Width: 3}, []string{"000", "001", "002"}},
		}
		for _, tt := range tests {
			r := e.cardRange(t, tt.in)
			var got []string
			for range tt.want {
				got = append(got, e.issue(t, c.ID, loyalty.CardInput{Kind: "electronic", RangeID: r.ID}).Number)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: issued numbers mismatch (-want +got):\n%s", tt.name, diff)
			}
			for _, n := range got {
				if _, ok := r.Seq(n); !ok {
					t.Errorf("%s: issued %s, which is not a number of the range", tt.name, n)
				}
			}
		}
		// Every issued number identifies the customer.
		for _, n := range []string{"46000002", "4700993", "2000000000039", "000"} {
			got, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Card: n})
			if err != nil || got.ID != c.ID {
				t.Errorf("FindCustomer(card %s) = %v, %v, want %s", n, got, err, c.ID)
			}
		}
	})
}

func TestCardRangeRefusals(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		// An earlier plastic card: no range may make its number again.
		if _, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{Card: "46000500"}, nil); err != nil {
			t.Fatalf("CreateCustomer(card 46000500) = %v", err)
		}
		base := e.cardRange(t, loyalty.RangeInput{Name: "Электронные", Prefix: "47", Start: i64(1), End: i64(999), Width: 6})
		tests := []struct {
			name  string
			in    loyalty.RangeInput
			code  kopilka.Code
			field string
			names []string // what the message must name
		}{
			{"OverlapsIssuedCard", loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6}, kopilka.CodeConflict, "prefix", []string{"46000500"}},
			{"OverlapsRange", loyalty.RangeInput{Prefix: "47", Start: i64(900), End: i64(2000), Width: 6}, kopilka.CodeConflict, "prefix",
				[]string{base.ID, "47000900"}},
			// 4 + 7 digits makes 47000005 too.
			{"OverlapsRangeThroughShorterPrefix", loyalty.RangeInput{Prefix: "4", Start: i64(0), Width: 7}, kopilka.CodeConflict, "prefix",
				[]string{base.ID, "46000500"}},
			{"EAN13WrongLength", loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6, CheckDigit: kopilka.CheckEAN13}, kopilka.CodeInvalidRequest, "width", nil},
			{"UnknownCheckDigit", loyalty.RangeInput{Prefix: "46", Width: 6, CheckDigit: "crc"}, kopilka.CodeInvalidRequest, "check_digit", nil},
			{"NegativeEnd", loyalty.RangeInput{Prefix: "48", Width: 6, End: i64(-1)}, kopilka.CodeInvalidRequest, "end", nil},
			{"NoWidth", loyalty.RangeInput{Prefix: "48"}, kopilka.CodeInvalidRequest, "width", nil},
		}
		for _, tt := range tests {
			_, err := e.svc.CreateCardRange(e.ctx, e.tenant.ID, tt.in)
			wantRefusal(t, tt.name+": CreateCardRange", err, tt.code, tt.field, tt.names...)
		}
		// Ranges that only look alike pass: the rest of 47, another length,
		// and a Luhn range whose numbers are a digit longer.
		for _, in := range []loyalty.RangeInput{
			{Prefix: "47", Start: i64(1000), Width: 6},
			{Prefix: "46", Start: i64(1), Width: 8},
			{Prefix: "46", Start: i64(501), Width: 6, CheckDigit: kopilka.CheckLuhn},
		} {
			e.cardRange(t, in)
		}
		list, err := e.svc.ListCardRanges(e.ctx, e.tenant.ID)
		if err != nil || len(list) != 4 {
			t.Fatalf("ListCardRanges() = %d ranges, %v, want 4", len(list), err)
		}
		// Issuing never makes a number another card has, nor one that is
		// not the range's.
		for range 3 {
			k := e.issue(t, c.ID, loyalty.CardInput{Kind: "plastic", RangeID: base.ID})
			if !strings.HasPrefix(k.Number, "47000") || len(k.Number) != 8 {
				t.Errorf("IssueCard(range %s) = %s, want 47000…", base.ID, k.Number)
			}
		}
	})
}

func TestIssueCardChoosesRange(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		_, err := e.svc.IssueCard(e.ctx, e.tenant.ID, c.ID, loyalty.CardInput{Kind: "electronic"})
		wantRefusal(t, "IssueCard(no range)", err, kopilka.CodeConflict, "number")

		// Newest is by creation time: the clock moves between the three.
		old := e.cardRange(t, loyalty.RangeInput{Prefix: "10", Start: i64(1), Width: 4})
		e.clock.Advance(time.Second)
		plastic := e.cardRange(t, loyalty.RangeInput{Prefix: "20", Start: i64(1), Width: 4, Kind: "plastic"})
		e.clock.Advance(time.Second)
		small := e.cardRange(t, loyalty.RangeInput{Prefix: "30", Start: i64(1), End: i64(2), Width: 4, Kind: "electronic"})
		steps := []struct {
			in   loyalty.CardInput
			want string
		}{
			// The newest range for the kind with numbers left.
			{loyalty.CardInput{Kind: "electronic"}, "300001"},
			{loyalty.CardInput{Kind: "electronic"}, "300002"},
			{loyalty.CardInput{Kind: "electronic"}, "100001"}, // 30 is used up
			{loyalty.CardInput{Kind: "plastic"}, "200001"},
			{loyalty.CardInput{}, "200002"}, // plastic is the default kind
			{loyalty.CardInput{Kind: "plastic", RangeID: old.ID}, "100002"},
		}
		for i, s := range steps {
			if got := e.issue(t, c.ID, s.in).Number; got != s.want {
				t.Errorf("step %d: IssueCard(%+v) = %s, want %s", i+1, s.in, got, s.want)
			}
		}
		// A newer range for both kinds does not take over from the range
		// meant for plastic cards.
		e.clock.Advance(time.Second)
		both := e.cardRange(t, loyalty.RangeInput{Prefix: "50", Start: i64(1), End: i64(1), Width: 4})
		steps = []struct {
			in   loyalty.CardInput
			want string
		}{
			{loyalty.CardInput{Kind: "plastic"}, "200003"},
			{loyalty.CardInput{Kind: "electronic"}, "500001"},
			{loyalty.CardInput{Kind: "electronic"}, "100003"}, // 50 is used up
		}
		for i, s := range steps {
			if got := e.issue(t, c.ID, s.in).Number; got != s.want {
				t.Errorf("step %d: IssueCard(%+v) = %s, want %s", i+1, s.in, got, s.want)
			}
		}
		_, err = e.svc.IssueCard(e.ctx, e.tenant.ID, c.ID, loyalty.CardInput{Kind: "electronic", RangeID: small.ID})
		wantRefusal(t, "IssueCard(used-up range)", err, kopilka.CodeConflict, "range_id", small.ID)
		_, err = e.svc.IssueCard(e.ctx, e.tenant.ID, c.ID, loyalty.CardInput{Kind: "electronic", RangeID: plastic.ID})
		wantRefusal(t, "IssueCard(plastic range for electronic)", err, kopilka.CodeInvalidRequest, "range_id")
		_, err = e.svc.IssueCard(e.ctx, e.tenant.ID, c.ID, loyalty.CardInput{RangeID: "rng_nope"})
		wantRefusal(t, "IssueCard(unknown range)", err, kopilka.CodeInvalidRequest, "range_id")

		list, err := e.svc.ListCardRanges(e.ctx, e.tenant.ID)
		if err != nil {
			t.Fatalf("ListCardRanges() = %v", err)
		}
		type use struct {
			ID           string
			Issued, Left int64
			Exhausted    bool
		}
		var got []use
		for _, r := range list {
			got = append(got, use{ID: r.ID, Issued: r.Issued, Left: r.Left, Exhausted: r.Exhausted()})
		}
		want := []use{{ID: old.ID, Issued: 3, Left: 9996}, {ID: plastic.ID, Issued: 3, Left: 9996},
			{ID: small.ID, Issued: 2, Left: 0, Exhausted: true}, {ID: both.ID, Issued: 1, Left: 0, Exhausted: true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListCardRanges() use mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestIssueCardWithNumber(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		c := e.customer(t, kopilka.Customer{})
		other := e.customer(t, kopilka.Customer{})
		r := e.cardRange(t, loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6, CheckDigit: kopilka.CheckLuhn})
		// A plastic card of the range handed out by its printed number, and
		// the customer's id in another system as a card number.
		printed := r.Number(2)
		for _, n := range []string{printed, "MS-7f3a9c2e-1b4d"} {
			k := e.issue(t, c.ID, loyalty.CardInput{Kind: "plastic", Number: n})
			if k.Number != n || k.Status != "active" || k.Kind != "plastic" || k.RangeID != "" {
				t.Errorf("IssueCard(number %s) = %+v, want an active plastic card with that number", n, k)
			}
		}
		// The counter skips the number bound by hand.
		var got []string
		for range 3 {
			got = append(got, e.issue(t, other.ID, loyalty.CardInput{Kind: "electronic"}).Number)
		}
		if want := []string{r.Number(1), r.Number(3), r.Number(4)}; !slices.Equal(got, want) {
			t.Errorf("IssueCard() after %s was bound = %v, want %v", printed, got, want)
		}
		tests := []struct {
			name       string
			customerID string
			in         loyalty.CardInput
			code       kopilka.Code
			field      string
		}{
			{"TakenNumber", other.ID, loyalty.CardInput{Number: printed}, kopilka.CodeConflict, "number"},
			{"TakenByIssue", c.ID, loyalty.CardInput{Number: r.Number(3)}, kopilka.CodeConflict, "number"},
			{"MistypedCheckDigit", c.ID, loyalty.CardInput{Number: r.Number(9)[:8] + "0"}, kopilka.CodeInvalidRequest, "number"},
			{"Space", c.ID, loyalty.CardInput{Number: "46 000"}, kopilka.CodeInvalidRequest, "number"},
			{"NumberAndRange", c.ID, loyalty.CardInput{Number: "X-1", RangeID: r.ID}, kopilka.CodeInvalidRequest, "range_id"},
			{"UnknownKind", c.ID, loyalty.CardInput{Kind: "virtual"}, kopilka.CodeInvalidRequest, "kind"},
			{"UnknownCustomer", kopilka.NewID("cus"), loyalty.CardInput{Number: "X-2"}, kopilka.CodeNotFound, ""},
		}
		if r.Number(9)[:8]+"0" == r.Number(9) {
			t.Fatal("the mistyped number is the right one; pick another")
		}
		for _, tt := range tests {
			_, err := e.svc.IssueCard(e.ctx, e.tenant.ID, tt.customerID, tt.in)
			wantRefusal(t, tt.name+": IssueCard", err, tt.code, tt.field)
		}
		// Numbers are per tenant: another tenant binds the same number.
		_, key, err := e.svc.CreateTenant(e.ctx, "Другая аптека")
		if err != nil {
			t.Fatal(err)
		}
		oc, err := e.svc.CreateCustomer(e.ctx, key.Key.TenantID, loyalty.CustomerInput{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.IssueCard(e.ctx, key.Key.TenantID, oc.ID, loyalty.CardInput{Number: printed}); err != nil {
			t.Errorf("IssueCard(another tenant, %s) = %v, want it bound", printed, err)
		}
		// Another tenant's customer is not found with this tenant's id.
		_, err = e.svc.IssueCard(e.ctx, e.tenant.ID, oc.ID, loyalty.CardInput{Number: "X-3"})
		wantRefusal(t, "IssueCard(another tenant's customer)", err, kopilka.CodeNotFound, "")
	})
}

// TestIssueCardConcurrent: 100 issues at once give 100 distinct numbers,
// the first 100 of the range: none twice, none skipped.
func TestIssueCardConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		r := e.cardRange(t, loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6, CheckDigit: kopilka.CheckLuhn})
		var customers []string
		for range 10 {
			customers = append(customers, e.customer(t, kopilka.Customer{}).ID)
		}
		const n = 100
		var (
			mu  sync.Mutex
			got []string
			wg  sync.WaitGroup
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				k, err := e.svc.IssueCard(e.ctx, e.tenant.ID, customers[i%len(customers)], loyalty.CardInput{Kind: "electronic"})
				if err != nil {
					t.Errorf("IssueCard #%d = %v", i, err)
					return
				}
				mu.Lock()
				got = append(got, k.Number)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		var want []string
		for seq := int64(1); seq <= n; seq++ {
			want = append(want, r.Number(seq))
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d concurrent issues mismatch (-want +got):\n%s", n, diff)
		}
		list, err := e.svc.ListCardRanges(e.ctx, e.tenant.ID)
		if err != nil || len(list) != 1 || list[0].Issued != n || list[0].Next != n+1 {
			t.Errorf("ListCardRanges() = %+v, %v, want %d issued and the counter at %d", list, err, n, n+1)
		}
	})
}

func TestBlockCard(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.cardRange(t, loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6})
		c := e.customer(t, kopilka.Customer{})
		e.adjust(t, c.ID, 50000)
		k := e.issue(t, c.ID, loyalty.CardInput{Kind: "plastic"})
		ref := loyalty.Ref{Card: k.Number}

		got, err := e.svc.BlockCard(e.ctx, e.tenant.ID, k.Number, nil)
		if err != nil || got.Status != "blocked" {
			t.Fatalf("BlockCard(%s) = %+v, %v, want blocked", k.Number, got, err)
		}
		_, _, err = e.svc.FindCustomer(e.ctx, e.tenant.ID, ref)
		wantRefusal(t, "FindCustomer(blocked card)", err, kopilka.CodeCustomerNotFound, "card", k.Number, "blocked")
		_, err = e.calculate(ref)
		wantCode(t, "Calculate(blocked card)", err, kopilka.CodeCustomerNotFound)
		_, err = e.svc.CreatePurchase(e.ctx, e.tenant.ID, loyalty.PurchaseInput{Customer: ref, ExternalID: "R-1",
			Lines: []loyalty.LineInput{{SKU: "BREAD", Quantity: 1000, Price: 5000}}, Redeem: 1000, Confirm: true}, nil)
		wantCode(t, "CreatePurchase(blocked card)", err, kopilka.CodeCustomerNotFound)
		if b := e.balance(t, c.ID); b.Available != 50000 {
			t.Errorf("balance after refused purchases = %d, want 50000", b.Available)
		}
		if got, err := e.svc.BlockCard(e.ctx, e.tenant.ID, k.Number, nil); err != nil || got.Status != "blocked" {
			t.Errorf("BlockCard(blocked) = %+v, %v, want blocked, no error", got, err)
		}

		if got, err := e.svc.UnblockCard(e.ctx, e.tenant.ID, k.Number, nil); err != nil || got.Status != "active" {
			t.Fatalf("UnblockCard(%s) = %+v, %v, want active", k.Number, got, err)
		}
		if got, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, ref); err != nil || got.ID != c.ID {
			t.Errorf("FindCustomer(unblocked card) = %v, %v, want %s", got, err, c.ID)
		}
		if p, err := e.calculate(ref); err != nil || p.CustomerID != c.ID {
			t.Errorf("Calculate(unblocked card) = %+v, %v, want customer %s", p, err, c.ID)
		}
		_, err = e.svc.BlockCard(e.ctx, e.tenant.ID, "99999999", nil)
		wantRefusal(t, "BlockCard(unknown)", err, kopilka.CodeNotFound, "")

		hist, err := e.svc.CustomerHistory(e.ctx, e.tenant.ID, c.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, h := range hist {
			lines = append(lines, h.Field+": "+h.OldValue+" → "+h.NewValue)
		}
		want := []string{
			"cards: " + k.Number + " blocked → " + k.Number + " active",
			"cards: " + k.Number + " active → " + k.Number + " blocked",
			"cards:  → " + k.Number + " plastic active",
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("CustomerHistory() mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestReplaceCard(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.setProgram(t, func(p *kopilka.Program) { p.Tiers[0].MaxRedeemPercent = 50 * kopilka.PercentScale })
		r := e.cardRange(t, loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6, CheckDigit: kopilka.CheckLuhn})
		c := e.customer(t, kopilka.Customer{Phone: "+79120000001"})
		e.adjust(t, c.ID, 70000)
		old := e.issue(t, c.ID, loyalty.CardInput{Kind: "electronic"})
		if _, err := e.svc.BlockCard(e.ctx, e.tenant.ID, old.Number, nil); err != nil {
			t.Fatal(err)
		}
		before := e.balance(t, c.ID)

		repl, err := e.svc.ReplaceCard(e.ctx, e.tenant.ID, old.Number, loyalty.ReplaceInput{})
		if err != nil {
			t.Fatalf("ReplaceCard(%s) = %v", old.Number, err)
		}
		if repl.Number != r.Number(2) || repl.Kind != "electronic" || repl.Status != "active" || repl.CustomerID != c.ID {
			t.Errorf("ReplaceCard(%s) = %+v, want active electronic card %s of %s", old.Number, repl, r.Number(2), c.ID)
		}
		if diff := cmp.Diff(before, e.balance(t, c.ID)); diff != "" {
			t.Errorf("balance changed by the replacement (-before +after):\n%s", diff)
		}
		oldNow, err := e.svc.GetCard(e.ctx, e.tenant.ID, old.Number)
		if err != nil || oldNow.Status != "replaced" || oldNow.ReplacedBy != repl.Number {
			t.Errorf("GetCard(old) = %+v, %v, want replaced by %s", oldNow, err, repl.Number)
		}
		// The new card spends the same points; the old one finds nobody.
		p, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, loyalty.PurchaseInput{Customer: loyalty.Ref{Card: repl.Number}, ExternalID: "R-1",
			Lines: []loyalty.LineInput{{SKU: "TV", Quantity: 1000, Price: 200000}}, Redeem: 60000, Confirm: true}, nil)
		if err != nil || p.CustomerID != c.ID || p.Redeem != 60000 {
			t.Errorf("CreatePurchase(new card, redeem 60000) = %+v, %v, want the customer's points spent", p, err)
		}
		_, _, err = e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Card: old.Number})
		wantRefusal(t, "FindCustomer(replaced card)", err, kopilka.CodeCustomerNotFound, "card", old.Number, repl.Number)
		_, err = e.calculate(loyalty.Ref{Card: old.Number})
		wantCode(t, "Calculate(replaced card)", err, kopilka.CodeCustomerNotFound)

		for _, f := range []func() error{
			func() error {
				_, err := e.svc.ReplaceCard(e.ctx, e.tenant.ID, old.Number, loyalty.ReplaceInput{})
				return err
			},
			func() error { _, err := e.svc.BlockCard(e.ctx, e.tenant.ID, old.Number, nil); return err },
			func() error { _, err := e.svc.UnblockCard(e.ctx, e.tenant.ID, old.Number, nil); return err },
		} {
			wantRefusal(t, "a step on the replaced card", f(), kopilka.CodeConflict, "", repl.Number)
		}
		// A plastic card replaced by the number on the new plastic card.
		pl := e.issue(t, c.ID, loyalty.CardInput{Kind: "plastic", Number: "P-0001"})
		got, err := e.svc.ReplaceCard(e.ctx, e.tenant.ID, pl.Number, loyalty.ReplaceInput{Number: "P-0002"})
		if err != nil || got.Number != "P-0002" || got.Kind != "plastic" {
			t.Errorf("ReplaceCard(P-0001, number P-0002) = %+v, %v, want plastic P-0002", got, err)
		}
		_, err = e.svc.ReplaceCard(e.ctx, e.tenant.ID, "P-0002", loyalty.ReplaceInput{Number: repl.Number})
		wantRefusal(t, "ReplaceCard(taken number)", err, kopilka.CodeConflict, "number")
		if k, err := e.svc.GetCard(e.ctx, e.tenant.ID, "P-0002"); err != nil || k.Status != "active" {
			t.Errorf("GetCard(P-0002) after the refused replacement = %+v, %v, want still active", k, err)
		}
		cus, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var cards []string
		for _, k := range cus.Cards {
			cards = append(cards, k.Number+" "+k.Kind+" "+k.Status)
		}
		want := []string{old.Number + " electronic replaced", repl.Number + " electronic active", "P-0001 plastic replaced", "P-0002 plastic active"}
		if diff := cmp.Diff(want, cards); diff != "" {
			t.Errorf("GetCustomer().Cards mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestElectronicCardSettings(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.cardRange(t, loyalty.RangeInput{Prefix: "46", Start: i64(1), Width: 6, Kind: "electronic"})
		plain, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{Card: "P-1", Customer: kopilka.Customer{Group: "старые"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Off by default: the plastic card stays, the group too.
		e.issue(t, plain.ID, loyalty.CardInput{Kind: "electronic"})
		if got := cardStates(t, e, plain.ID); !slices.Equal(got, []string{"46000001 active", "P-1 active"}) {
			t.Errorf("cards with the settings off = %v, want both active", got)
		}

		st, err := e.svc.SetSettings(e.ctx, e.tenant.ID, kopilka.TenantSettings{ElectronicDeactivatesPlastic: true, ElectronicCardGroup: " Электронная карта "})
		if err != nil || st.ElectronicCardGroup != "Электронная карта" {
			t.Fatalf("SetSettings() = %+v, %v", st, err)
		}
		if got, err := e.svc.Settings(e.ctx, e.tenant.ID); err != nil || got != st {
			t.Errorf("Settings() = %+v, %v, want %+v", got, err, st)
		}
		c, err := e.svc.CreateCustomer(e.ctx, e.tenant.ID, loyalty.CustomerInput{Card: "P-2"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p3 := e.issue(t, c.ID, loyalty.CardInput{Kind: "plastic", Number: "P-3"})
		if _, err := e.svc.BlockCard(e.ctx, e.tenant.ID, p3.Number, nil); err != nil {
			t.Fatal(err)
		}
		el := e.issue(t, c.ID, loyalty.CardInput{Kind: "electronic"})
		if got, want := cardStates(t, e, c.ID), []string{el.Number + " active", "P-2 replaced", "P-3 blocked"}; !slices.Equal(got, want) {
			t.Errorf("cards after the electronic issue = %v, want %v", got, want)
		}
		if k, err := e.svc.GetCard(e.ctx, e.tenant.ID, "P-2"); err != nil || k.ReplacedBy != el.Number {
			t.Errorf("GetCard(P-2) = %+v, %v, want replaced by %s", k, err, el.Number)
		}
		cus, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Card: el.Number})
		if err != nil || cus.Group != "Электронная карта" {
			t.Errorf("FindCustomer(electronic card) = %+v, %v, want group Электронная карта", cus, err)
		}
		_, _, err = e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Card: "P-2"})
		wantRefusal(t, "FindCustomer(deactivated plastic)", err, kopilka.CodeCustomerNotFound, "card", el.Number)
		hist, err := e.svc.CustomerHistory(e.ctx, e.tenant.ID, c.ID, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hist {
			got = append(got, h.Field+": "+h.OldValue+" → "+h.NewValue)
		}
		want := []string{"group:  → Электронная карта", "cards: P-2 active → P-2 replaced by " + el.Number, "cards:  → " + el.Number + " electronic active"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CustomerHistory() mismatch (-want +got):\n%s", diff)
		}
		// A plastic card issued now leaves the group and the cards alone.
		d := e.customer(t, kopilka.Customer{Group: "опт"})
		e.issue(t, d.ID, loyalty.CardInput{Kind: "plastic", Number: "P-4"})
		if got, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, d.ID); err != nil || got.Group != "опт" {
			t.Errorf("GetCustomer() after a plastic issue = %+v, %v, want group опт", got, err)
		}
		_, err = e.svc.SetSettings(e.ctx, e.tenant.ID, kopilka.TenantSettings{ElectronicCardGroup: strings.Repeat("г", 201)})
		wantRefusal(t, "SetSettings(long group)", err, kopilka.CodeInvalidRequest, "electronic_card_group")
	})
}

func cardStates(t *testing.T, e *env, customerID string) []string {
	t.Helper()
	c, _, err := e.svc.GetCustomer(e.ctx, e.tenant.ID, customerID)
	if err != nil {
		t.Fatalf("GetCustomer(%s) = %v", customerID, err)
	}
	var out []string
	for _, k := range c.Cards {
		out = append(out, k.Number+" "+k.Status)
	}
	slices.Sort(out)
	return out
}

// TestFindCustomerByScan: a card printed as an EAN-13 barcode is found by
// the scan (number + check digit) and by the bare number; a card whose
// range ends in its own EAN-13 digit is found by its full number.
func TestFindCustomerByScan(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		plain := e.cardRange(t, loyalty.RangeInput{Prefix: "2100", Start: i64(1), Width: 8})
		short := e.cardRange(t, loyalty.RangeInput{Prefix: "77", Start: i64(1), Width: 4})
		ean := e.cardRange(t, loyalty.RangeInput{Prefix: "2000", Start: i64(1), Width: 8, CheckDigit: kopilka.CheckEAN13})
		a := e.customer(t, kopilka.Customer{})
		b := e.customer(t, kopilka.Customer{})
		d := e.customer(t, kopilka.Customer{})
		ka := e.issue(t, a.ID, loyalty.CardInput{RangeID: plain.ID})
		kb := e.issue(t, b.ID, loyalty.CardInput{RangeID: ean.ID})
		kd := e.issue(t, d.ID, loyalty.CardInput{RangeID: short.ID})
		scan := func(n string) string {
			body := strings.Repeat("0", 12-len(n)) + n
			cd, _ := kopilka.CheckDigitOf(kopilka.CheckEAN13, body)
			return body + string(cd)
		}
		tests := []struct {
			name, value, want string
		}{
			{"BareNumber", ka.Number, a.ID},
			{"EAN13Scan", scan(ka.Number), a.ID},
			{"ShortNumberScan", scan(kd.Number), d.ID},
			{"EAN13Number", kb.Number, b.ID},
		}
		for _, tt := range tests {
			got, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Card: tt.value})
			if err != nil || got.ID != tt.want {
				t.Errorf("%s: FindCustomer(card %s) = %v, %v, want %s", tt.name, tt.value, got, err, tt.want)
			}
			if p, err := e.calculate(loyalty.Ref{Card: tt.value}); err != nil || p.CustomerID != tt.want {
				t.Errorf("%s: Calculate(card %s) = %v, %v, want customer %s", tt.name, tt.value, p, err, tt.want)
			}
			if k, err := e.svc.GetCard(e.ctx, e.tenant.ID, tt.value); err != nil || k.CustomerID != tt.want {
				t.Errorf("%s: GetCard(%s) = %v, %v, want a card of %s", tt.name, tt.value, k, err, tt.want)
			}
			p, err := e.svc.CreatePurchase(e.ctx, e.tenant.ID, loyalty.PurchaseInput{Customer: loyalty.Ref{Card: tt.value},
				ExternalID: "R-" + tt.name, Lines: []loyalty.LineInput{{SKU: "BREAD", Quantity: 1000, Price: 5000}}}, nil)
			if err != nil || p.CustomerID != tt.want {
				t.Errorf("%s: CreatePurchase(card %s) = %v, %v, want customer %s", tt.name, tt.value, p, err, tt.want)
			}
		}
		for _, v := range []string{kb.Number[:12], scan(ka.Number)[:12] + "0", "2100000000020"} {
			_, _, err := e.svc.FindCustomer(e.ctx, e.tenant.ID, loyalty.Ref{Card: v})
			wantCode(t, fmt.Sprintf("FindCustomer(card %s)", v), err, kopilka.CodeCustomerNotFound)
		}
	})
}
