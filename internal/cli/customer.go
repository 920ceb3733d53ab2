package cli

import (
	"context"
	"encoding/json"
	"flag"

	"github.com/kopilka/kopilka/internal/kopilka"
)

const customerUsage = `usage: kopilka customer delete ID [--tenant ID] [--db …]
       kopilka customer merge ID --from OTHER_ID [--tenant ID] [--db …]`

// runCustomer is `kopilka customer delete|merge`: the admin API's
// deletion on request and merge, for an operator at the console.
func runCustomer(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || (args[0] != "delete" && args[0] != "merge") {
		return usagef(customerUsage)
	}
	verb := args[0]
	var tenant, from string
	c, ids, err := parseArgs(env, "customer "+verb, args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id (needed when the database holds several)")
		if verb == "merge" {
			fs.StringVar(&from, "from", "", "the customer to merge into ID (required)")
		}
	})
	if err != nil {
		return err
	}
	switch {
	case len(ids) != 1:
		return usagef("customer %s: name one customer ID\n%s", verb, customerUsage)
	case verb == "merge" && from == "":
		return usagef("customer merge: --from is required\n%s", customerUsage)
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	tenantID, err := pickTenant(ctx, svc, tenant)
	if err != nil {
		return err
	}
	ctx = kopilka.WithActor(ctx, kopilka.Actor{TenantID: tenantID, Name: "cli"})
	out := map[string]any{"customer_id": ids[0]}
	if verb == "delete" {
		if err := svc.DeleteCustomer(ctx, tenantID, ids[0]); err != nil {
			return err
		}
		out["deleted"] = true
	} else {
		if _, err := svc.MergeCustomers(ctx, tenantID, ids[0], from, nil); err != nil {
			return err
		}
		out["merged"] = from
	}
	return json.NewEncoder(env.Stdout).Encode(out)
}
