package loyalty_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/loyalty"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// BenchmarkPostedOperations measures posted ledger operations per second
// (adjustments: a credit makes an operation, two postings and a lot; a
// debit locks the customer, spends lots oldest-expiry first and posts) with
// 1 and 32 concurrent writers, each on a customer of its own, on both
// databases. The figure to quote is the ops/s metric.
//
//	KOPILKA_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/loyalty -run '^$' -bench PostedOperations -benchtime 20000x
func BenchmarkPostedOperations(b *testing.B) {
	for _, dialect := range storagetest.Dialects {
		for _, kind := range []string{"credit", "debit"} {
			for _, writers := range []int{1, 32} {
				b.Run(fmt.Sprintf("%s/%s/writers=%d", dialect, kind, writers), func(b *testing.B) {
					benchAdjust(b, dialect, kind, writers)
				})
			}
		}
	}
}

func benchAdjust(b *testing.B, dialect, kind string, writers int) {
	ctx := context.Background()
	committers, _ := strconv.Atoi(os.Getenv("KOPILKA_BENCH_COMMITTERS")) // 0: the default
	db := storagetest.Open(b, dialect, sqldb.Options{Committers: committers})
	svc := loyalty.New(db, nil, nil)
	tenant, _, err := svc.CreateTenant(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	customers := make([]string, writers)
	for i := range customers {
		c, err := svc.CreateCustomer(ctx, tenant.ID, loyalty.CustomerInput{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		customers[i] = c.ID
		if kind == "debit" {
			if _, err := svc.Adjust(ctx, tenant.ID, c.ID, loyalty.AdjustInput{Amount: kopilka.MaxAmount}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	amount := kopilka.Amount(100)
	if kind == "debit" {
		amount = -100
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		n := b.N / writers
		if w < b.N%writers {
			n++
		}
		wg.Go(func() {
			for range n {
				if _, err := svc.Adjust(ctx, tenant.ID, customers[w], loyalty.AdjustInput{Amount: amount}, nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
