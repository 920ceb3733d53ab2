package api

import (
	"cmp"
	"reflect"
	"slices"

	"github.com/kopilka/kopilka/internal/api/internal/openapigen"
	"github.com/kopilka/kopilka/internal/kopilka"
)

// OpenAPITypes names the Go types the document's schemas describe, for
// openapigen.Build in the external tests.
func OpenAPITypes() openapigen.Types {
	return openapigen.Types{
		"Customer":            reflect.TypeFor[customerJSON](),
		"IdentifiedCustomer":  reflect.TypeFor[identifiedJSON](),
		"Card":                reflect.TypeFor[cardJSON](),
		"CustomerInput":       reflect.TypeFor[createCustomerReq](),
		"CustomerPatch":       reflect.TypeFor[patchCustomerReq](),
		"CustomerChange":      reflect.TypeFor[changeJSON](),
		"Balance":             reflect.TypeFor[balanceJSON](),
		"Expiring":            reflect.TypeFor[expiringJSON](),
		"Operation":           reflect.TypeFor[operationJSON](),
		"AdjustmentInput":     reflect.TypeFor[adjustReq](),
		"MergeInput":          reflect.TypeFor[mergeCustomerReq](),
		"APIKey":              reflect.TypeFor[keyJSON](),
		"NewAPIKey":           reflect.TypeFor[keyJSON](),
		"APIKeyInput":         reflect.TypeFor[createKeyReq](),
		"Store":               reflect.TypeFor[storeJSON](),
		"StoreInput":          reflect.TypeFor[createStoreReq](),
		"Program":             reflect.TypeFor[kopilka.Program](),
		"Tier":                reflect.TypeFor[kopilka.Tier](),
		"Verification":        reflect.TypeFor[kopilka.Verification](),
		"ProgramInput":        reflect.TypeFor[kopilka.Program](),
		"TierInput":           reflect.TypeFor[kopilka.Tier](),
		"VerificationInput":   reflect.TypeFor[kopilka.Verification](),
		"CustomerRef":         reflect.TypeFor[customerRefJSON](),
		"LineInput":           reflect.TypeFor[lineReq](),
		"CalculationRequest":  reflect.TypeFor[purchaseReq](),
		"PurchaseRequest":     reflect.TypeFor[purchaseReq](),
		"Calculation":         reflect.TypeFor[calculationJSON](),
		"CalculationCustomer": reflect.TypeFor[customerTierJSON](),
		"CalculationLine":     reflect.TypeFor[lineJSON](),
		"Purchase":            reflect.TypeFor[purchaseJSON](),
		"RefundInput":         reflect.TypeFor[refundReq](),
		"RefundLineInput":     reflect.TypeFor[kopilka.RefundLine](),
		"Refund":              reflect.TypeFor[refundJSON](),
		"RefundLine":          reflect.TypeFor[kopilka.RefundLine](),
		"Promotion":           reflect.TypeFor[kopilka.Promotion](),
		"PromotionInput":      reflect.TypeFor[promotionReq](),
		"Problem":             reflect.TypeFor[Problem](),
		"CardDetail":          reflect.TypeFor[cardDetailJSON](),
		"CardView":            reflect.TypeFor[cardViewJSON](),
		"CardInput":           reflect.TypeFor[issueCardReq](),
		"ReplaceInput":        reflect.TypeFor[replaceCardReq](),
		"CardRange":           reflect.TypeFor[rangeJSON](),
		"CardRangeInput":      reflect.TypeFor[rangeReq](),
		"Settings":            reflect.TypeFor[kopilka.TenantSettings](),
		"SettingsInput":       reflect.TypeFor[kopilka.TenantSettings](),
		"ImportJob":           reflect.TypeFor[importJSON](),
		"ImportError":         reflect.TypeFor[importErrorJSON](),
		"Consent":             reflect.TypeFor[consentJSON](),
		"ConsentInput":        reflect.TypeFor[consentReq](),
		"WithdrawInput":       reflect.TypeFor[withdrawReq](),
	}
}

// WireCode is the code answers carry for an error code.
func WireCode(c string) string { return string(wireCode(kopilka.Code(c))) }

// OpenAPICodes lists the error codes with their statuses and titles, by
// status then code.
func OpenAPICodes() []openapigen.Code {
	var out []openapigen.Code
	for c, s := range statuses {
		out = append(out, openapigen.Code{Name: string(wireCode(c)), Status: s, Title: titles[c]})
	}
	slices.SortFunc(out, func(a, b openapigen.Code) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Title, b.Title))
	})
	return out
}

// OpenAPIDocument is the embedded document the server publishes.
func OpenAPIDocument() []byte { return openapiJSON }
