package api

import (
	"github.com/kopilka/kopilka/internal/kopilka"
)

// routes is the whole /v1 surface in one table.
func (h *Handler) routes() []Route {
	admin, pos := kopilka.ScopeAdmin, kopilka.ScopePOS
	return []Route{
		{"GET", "/v1/program", pos, "getProgram", h.getProgram},
		{"PUT", "/v1/program", admin, "putProgram", h.putProgram},
		{"GET", "/v1/settings", pos, "getSettings", h.getSettings},
		{"PUT", "/v1/settings", admin, "putSettings", h.putSettings},

		{"POST", "/v1/api-keys", admin, "createAPIKey", h.createAPIKey},
		{"GET", "/v1/api-keys", admin, "listAPIKeys", h.listAPIKeys},
		{"DELETE", "/v1/api-keys/{id}", admin, "revokeAPIKey", h.revokeAPIKey},

		{"POST", "/v1/stores", admin, "createStore", h.createStore},
		{"GET", "/v1/stores", pos, "listStores", h.listStores},
		{"GET", "/v1/stores/{id}", pos, "getStore", h.getStore},

		{"POST", "/v1/customers", pos, "createCustomer", h.createCustomer},
		{"GET", "/v1/customers", pos, "findCustomer", h.findCustomer},
		{"GET", "/v1/customers/search", pos, "searchCustomers", h.searchCustomers},
		{"GET", "/v1/customers/{id}", pos, "getCustomer", h.getCustomer},
		{"PATCH", "/v1/customers/{id}", pos, "updateCustomer", h.updateCustomer},
		{"DELETE", "/v1/customers/{id}", admin, "deleteCustomer", h.deleteCustomer},
		{"POST", "/v1/customers/{id}/merge", admin, "mergeCustomer", h.mergeCustomer},
		{"GET", "/v1/customers/{id}/history", pos, "customerHistory", h.customerHistory},
		{"GET", "/v1/customers/{id}/balance", pos, "getBalance", h.getBalance},
		{"GET", "/v1/customers/{id}/operations", pos, "listOperations", h.listOperations},
		{"POST", "/v1/customers/{id}/adjustments", admin, "createAdjustment", h.createAdjustment},
		{"POST", "/v1/customers/{id}/cards", pos, "issueCard", h.issueCard},
		{"GET", "/v1/customers/{id}/consents", pos, "listConsents", h.listConsents},
		{"POST", "/v1/customers/{id}/consents", pos, "giveConsent", h.giveConsent},
		{"POST", "/v1/customers/{id}/consents/{kind}/withdraw", pos, "withdrawConsent", h.withdrawConsent},

		{"POST", "/v1/card-ranges", admin, "createCardRange", h.createCardRange},
		{"GET", "/v1/card-ranges", pos, "listCardRanges", h.listCardRanges},
		{"GET", "/v1/cards/{number}", pos, "getCard", h.getCard},
		{"GET", "/v1/cards/{number}/barcode", pos, "cardBarcode", h.cardBarcode},
		{"POST", "/v1/cards/{number}/block", pos, "blockCard", step(h, "POST /v1/cards/{number}/block", cardView, blockStep)},
		{"POST", "/v1/cards/{number}/unblock", pos, "unblockCard", step(h, "POST /v1/cards/{number}/unblock", cardView, unblockStep)},
		{"POST", "/v1/cards/{number}/replace", pos, "replaceCard", h.replaceCard},

		{"POST", "/v1/promotions", admin, "createPromotion", h.createRule(kopilka.KindPromotion)},
		{"GET", "/v1/promotions", pos, "listPromotions", h.listRules(kopilka.KindPromotion)},
		{"GET", "/v1/promotions/{id}", pos, "getPromotion", h.getRule(kopilka.KindPromotion)},
		{"DELETE", "/v1/promotions/{id}", admin, "deletePromotion", h.deleteRule(kopilka.KindPromotion)},
		{"POST", "/v1/offers", admin, "createOffer", h.createRule(kopilka.KindOffer)},
		{"GET", "/v1/offers", pos, "listOffers", h.listRules(kopilka.KindOffer)},
		{"GET", "/v1/offers/{id}", pos, "getOffer", h.getRule(kopilka.KindOffer)},
		{"DELETE", "/v1/offers/{id}", admin, "deleteOffer", h.deleteRule(kopilka.KindOffer)},

		{"POST", "/v1/purchases/calculate", pos, "calculatePurchase", h.calculatePurchase},
		{"POST", "/v1/purchases", pos, "createPurchase", h.createPurchase},
		{"GET", "/v1/purchases", pos, "findPurchase", h.findPurchase},
		{"GET", "/v1/purchases/{id}", pos, "getPurchase", h.getPurchase},
		{"POST", "/v1/purchases/{id}/confirm", pos, "confirmPurchase", step(h, "POST /v1/purchases/{id}/confirm", purchaseView, confirmStep)},
		{"POST", "/v1/purchases/{id}/cancel", pos, "cancelPurchase", step(h, "POST /v1/purchases/{id}/cancel", purchaseView, cancelStep)},
		{"POST", "/v1/purchases/{id}/refunds", pos, "createRefund", h.createRefund},

		{"POST", "/v1/imports", admin, "createImport", h.createImport},
		{"GET", "/v1/imports/{id}", admin, "getImport", h.getImport},
		{"GET", "/v1/exports/customers", admin, "exportCustomers", h.exportCustomers},
		{"GET", "/v1/exports/balances", admin, "exportBalances", h.exportBalances},
		{"GET", "/v1/exports/operations", admin, "exportOperations", h.exportOperations},
	}
}
