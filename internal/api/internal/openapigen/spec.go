package openapigen

import (
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
)

const infoDescription = `Kopilka is a loyalty-points processing centre: customers and their cards, a points programme with tiers, purchases that redeem and earn points, refunds, manual adjustments and balances.

Money and points are integers in hundredths: 12345 is 123.45 RUB or 123.45 points. Quantities are JSON numbers with up to 3 decimals (0.5 kg); percentages are JSON numbers with up to 4 decimals (2.5). All receipt arithmetic is exact — no binary floating point — and follows one allocation rule: to spread an integer X over lines in proportion to weights, each line gets floor(X·w/Σw), and the remainder goes one hundredth at a time to the lines with the largest fractional parts (ties: the earlier line).

Times are RFC 3339 in UTC. Bodies are UTF-8 JSON of at most 1 MiB; unknown fields, trailing data and wrong types are refused with 400 invalid_request naming the field. Answers may gain fields over time: clients must ignore fields they do not know.

Authentication: Authorization: Bearer <api key>. A key belongs to one tenant and carries scopes: admin (everything) or pos (the till's work: customers, balances, purchases, refunds). Each operation names the scope it needs (x-scope). A key may be bound to one store; it then acts for that store only and gets 403 forbidden elsewhere. GET /healthz, GET /v1/openapi.json and GET /docs need no key.

Errors are RFC 9457 application/problem+json documents with a stable code (see the Problem schema). A 5xx is a bug or an outage, never a business refusal.

Idempotency: every POST that changes state accepts an Idempotency-Key header (a replayed API-key creation shows the key's record without its secret, which is shown only once). A retry with the same key on the same path with the same JSON body (spacing and the order of keys aside) returns the first answer again, marked Idempotent-Replayed: true; the same key with another body or path is 409 conflict. Business refusals (insufficient_points, redeem_limit_exceeded, not_eligible) are stored and replayed too; malformed requests (400) are not stored, so the corrected request may reuse the key. Keys are kept 72 hours. Purchases, refunds and adjustments are also unique by their external_id within the tenant.

Limits: each key may send 5,000 requests a second with bursts of as many, and each tenant may have 16 requests running at once with up to 2,048 more waiting for a turn (at most 10 s each) — the operator may change them (kopilka serve --rate-limit, --rate-burst, --tenant-inflight). Past a limit the answer is 429 limit_exceeded with a Retry-After header in whole seconds. Pages hold at most 200 items (limit, default 50).

Every answer carries an X-Request-Id header: the client's own when it sent one of at most 64 characters, a new one otherwise.`

const maxAmount = kopilka.MaxAmount

func tags() []object {
	return []object{
		{{"name", "Programme"}, {"description", "The points programme: tiers, accrual and redemption rules, expiry, bonuses."}},
		{{"name", "API keys"}, {"description", "Keys for integrations and tills."}},
		{{"name", "Stores"}, {"description", "Points of sale."}},
		{{"name", "Customers"}, {"description", "Card holders, their profiles, balances and points history."}},
		{{"name", "Cards"}, {"description", "Card ranges, the cards issued from them or bound by their number, and a card's life: active, blocked, replaced."}},
		{{"name", "Settings"}, {"description", "The tenant's switches outside the points programme."}},
		{{"name", "Promotions"}, {"description", "Time-bound accrual rules for goods and stores."}},
		{{"name", "Offers"}, {"description", "Personal accrual offers for customer tags and groups."}},
		{{"name", "Purchases"}, {"description", "Receipts: calculate, register, confirm, cancel, refund."}},
		{{"name", "Imports and exports"}, {"description", "Customers, balances and purchase sums in and out as CSV or XLSX files; imports run in the background."}},
		{{"name", "Service"}, {"description", "Health and documentation; no key needed."}},
	}
}

func parameters() object {
	id := func(what, prefix string) object {
		return object{{"name", "id"}, {"in", "path"}, {"required", true},
			{"description", "The " + what + "'s id (" + prefix + "_…)."}, {"schema", &Schema{Type: "string"}}}
	}
	return object{
		{"CustomerID", id("customer", "cus")},
		{"StoreID", id("store", "sto")},
		{"PurchaseID", id("purchase", "pur")},
		{"PromotionID", id("promotion", "prm")},
		{"OfferID", id("offer", "ofr")},
		{"APIKeyID", id("API key", "key")},
		{"ImportID", id("import job", "imp")},
		{"ConsentKind", object{{"name", "kind"}, {"in", "path"}, {"required", true},
			{"description", "personal_data or marketing."}, {"schema", &Schema{Type: "string", Enum: []any{"personal_data", "marketing"}}}}},
		{"CardNumber", object{{"name", "number"}, {"in", "path"}, {"required", true},
			{"description", "The card number, or what a barcode scanner read from the card: an EAN-13 scan of a number of at most 12 digits (zero-padded on the left) finds the number without its check digit."},
			{"schema", &Schema{Type: "string"}}}},
		{"IdempotencyKey", object{{"name", "Idempotency-Key"}, {"in", "header"}, {"required", false},
			{"description", "Makes the request safe to retry: the same key with the same body on the same path returns the first answer (Idempotent-Replayed: true), including a business refusal; another body is 409 conflict. Kept 72 hours. 1 to 255 printable ASCII characters without spaces; a UUID is a good choice."},
			{"schema", &Schema{Type: "string", MinLength: ptr(1), MaxLength: ptr(255), Pattern: "^[!-~]+$"}}}},
		{"Limit", object{{"name", "limit"}, {"in", "query"}, {"required", false},
			{"description", "Page size."}, {"schema", &Schema{Type: "integer", Minimum: 1, Maximum: 200, Default: 50}}}},
	}
}

func pathRef(name string) paramRef { return paramRef{name, "path", "id"} }

func cardRef() paramRef { return paramRef{"CardNumber", "path", "number"} }

func limitRef() paramRef { return paramRef{"Limit", "query", "limit"} }

func headers() object {
	return object{
		{"IdempotentReplayed", object{{"description", "\"true\" when the answer is the stored answer to an earlier request with the same Idempotency-Key."},
			{"schema", &Schema{Type: "string", Enum: []any{"true"}}}}},
	}
}

func sharedResponses() object {
	prob := object{{"application/problem+json", object{{"schema", ref("Problem")}}}}
	return object{
		{"Unauthorized", object{{"description", "unauthorized: the key is missing, malformed, unknown or revoked."},
			{"headers", object{{"WWW-Authenticate", object{{"description", "Bearer realm=\"kopilka\""}, {"schema", &Schema{Type: "string"}}}}}},
			{"content", prob}}},
		{"AdminOnly", object{{"description", "forbidden: the key lacks the admin scope."}, {"content", prob}}},
		{"TooLarge", object{{"description", "invalid_request: the body is larger than 1 MiB (type …/payload_too_large)."}, {"content", prob}}},
		{"Unavailable", object{{"description", "unavailable: the database is busy; retry, with the same Idempotency-Key."},
			{"headers", object{{"Retry-After", object{{"description", "Seconds to wait before retrying."}, {"schema", &Schema{Type: "integer"}}}}}},
			{"content", prob}}},
		{"TooManyRequests", object{{"description", "limit_exceeded: the key sent more requests than its rate limit allows, or too many of the tenant's requests are running or waiting; retry after Retry-After seconds."},
			{"headers", object{{"Retry-After", object{{"description", "Whole seconds to wait before retrying (at least 1)."}, {"schema", &Schema{Type: "integer", Minimum: 1}}}}}},
			{"content", prob}}},
		{"Internal", object{{"description", "internal: a bug; the detail is logged, not shown."}, {"content", prob}}},
	}
}

func storeBound() resp { return problem("403", "forbidden: the key is bound to another store.") }

func invalid() resp {
	return problem("400", "invalid_request: the body or a parameter is malformed; field names it.")
}

func operations() []op {
	ops := []op{
		{Method: "GET", Path: "/v1/program", ID: "getProgram", Tag: "Programme", Scope: "pos",
			Summary:   "Read the points programme",
			Desc:      "The tenant's programme: currency, tiers, what accrual is computed on, exclusions, activation delay, expiry, bonuses and verification. A tenant that has not set one has the default: one tier, Base, earning 0%.",
			Responses: []resp{ok("200", "The programme.", "Program")}},
		{Method: "PUT", Path: "/v1/program", ID: "putProgram", Tag: "Programme", Scope: "admin",
			Summary: "Replace the points programme",
			Desc:    "Replaces the whole programme; omitted fields take their defaults (currency RUB, accrue_on paid, verification off with wait_seconds 45, zero numbers, empty lists). Tiers start at threshold 0 and rise strictly. The next receipt uses it. Answers the programme as stored.",
			Body:    &body{"ProgramInput", true, "The new programme."},
			Responses: []resp{ok("200", "The programme as stored, defaults filled in.", "Program"), invalid(),
				shared("403", "AdminOnly"), shared("413", "TooLarge")}},

		{Method: "GET", Path: "/v1/settings", ID: "getSettings", Tag: "Settings", Scope: "pos",
			Summary:   "Read the tenant settings",
			Desc:      "The tenant's switches outside the points programme: whether legal entities take part, and what issuing an electronic card does.",
			Responses: []resp{ok("200", "The settings.", "Settings")}},
		{Method: "PUT", Path: "/v1/settings", ID: "putSettings", Tag: "Settings", Scope: "admin",
			Summary: "Replace the tenant settings",
			Desc:    "Replaces every setting; an omitted field takes its default (false, empty). electronic_deactivates_plastic: issuing an electronic card replaces the customer's active plastic cards (status replaced, replaced_by the electronic card), as MoySklad knows one card per customer. electronic_card_group: the group a customer joins whenever an electronic card is issued to them, a replacement included; empty for none. Answers the settings as stored.",
			Body:    &body{"SettingsInput", true, "The new settings."},
			Responses: []resp{ok("200", "The settings as stored.", "Settings"), invalid(),
				shared("403", "AdminOnly"), shared("413", "TooLarge")}},

		{Method: "POST", Path: "/v1/api-keys", ID: "createAPIKey", Tag: "API keys", Scope: "admin", Idempotent: true,
			Summary: "Create an API key",
			Desc:    "Creates a key with the scopes given, optionally bound to one store. The answer holds the plain key in key: the only time it is shown, as only its SHA-256 digest is stored. With an Idempotency-Key a retry replays the key's record without the secret (it is stored nowhere).",
			Body:    &body{"APIKeyInput", true, "The key to make."},
			Responses: []resp{ok("201", "The key, with the plain key.", "NewAPIKey"),
				problem("400", "invalid_request: a malformed body, an unknown scope or store."),
				shared("403", "AdminOnly"), problem("409", "conflict: the Idempotency-Key was used for another request."),
				shared("413", "TooLarge")}},
		{Method: "GET", Path: "/v1/api-keys", ID: "listAPIKeys", Tag: "API keys", Scope: "admin",
			Summary:   "List API keys",
			Desc:      "Every key of the tenant, revoked ones included (revoked_at set). Plain keys are never shown again.",
			Responses: []resp{ok("200", "The keys.", "APIKeyList"), shared("403", "AdminOnly")}},
		{Method: "DELETE", Path: "/v1/api-keys/{id}", ID: "revokeAPIKey", Tag: "API keys", Scope: "admin",
			Summary: "Revoke an API key",
			Desc:    "The key stops working on the very next request. A key may revoke itself.",
			Params:  []any{pathRef("APIKeyID")},
			Responses: []resp{{Status: "204", Desc: "Revoked."}, shared("403", "AdminOnly"),
				problem("404", "not_found: no such key in this tenant.")}},

		{Method: "POST", Path: "/v1/stores", ID: "createStore", Tag: "Stores", Scope: "admin", Idempotent: true,
			Summary: "Create a store",
			Desc:    "Adds a point of sale. Keys may be bound to it; purchases name it in store_id.",
			Body:    &body{"StoreInput", true, "The store."},
			Responses: []resp{ok("201", "The store.", "Store"), invalid(), shared("403", "AdminOnly"),
				problem("409", "conflict: the Idempotency-Key was used for another request."), shared("413", "TooLarge")}},
		{Method: "GET", Path: "/v1/stores", ID: "listStores", Tag: "Stores", Scope: "pos",
			Summary: "List stores", Desc: "Every store of the tenant.",
			Responses: []resp{ok("200", "The stores.", "StoreList")}},
		{Method: "GET", Path: "/v1/stores/{id}", ID: "getStore", Tag: "Stores", Scope: "pos",
			Summary: "Read a store", Desc: "One store. A key bound to another store gets 403.",
			Params: []any{pathRef("StoreID")},
			Responses: []resp{ok("200", "The store.", "Store"), storeBound(),
				problem("404", "not_found: no such store in this tenant.")}},

		{Method: "POST", Path: "/v1/customers", ID: "createCustomer", Tag: "Customers", Scope: "pos", Idempotent: true,
			Summary: "Enrol a customer",
			Desc:    "Creates the customer, binds the card when one is given and pays the programme's welcome bonus, all at once. The phone is normalised to E.164 (+7 912 345-67-89 and 8 912 345-67-89 are one number); a phone or card another customer has is 409 conflict. kind legal_entity is refused with 422 not_eligible unless the tenant allows legal entities.",
			Body:    &body{"CustomerInput", true, "The customer's profile and card."},
			Responses: []resp{ok("201", "The customer, with id and cards.", "Customer"), invalid(),
				problem("409", "conflict: a customer with this phone or card exists (field names which), or the Idempotency-Key was used with another request."),
				shared("413", "TooLarge"),
				problem("422", "not_eligible: legal entities do not take part in this programme."),
				shared("503", "Unavailable")}},
		{Method: "GET", Path: "/v1/customers", ID: "findCustomer", Tag: "Customers", Scope: "pos",
			Summary: "Identify a customer",
			Desc:    "Finds the one customer with this phone, card number or id (give exactly one of the three), with its balance and tier.",
			Params: []any{
				queryParam("phone", "A phone in any common notation; compared in E.164.", false, &Schema{Type: "string"}),
				queryParam("card", "A card number, or a barcode scan of it (an EAN-13 scan of a number of at most 12 digits finds it). Only an active card identifies its holder.", false, &Schema{Type: "string"}),
				queryParam("id", "A customer id.", false, &Schema{Type: "string"}),
			},
			Responses: []resp{ok("200", "The customer, with its balance and tier.", "IdentifiedCustomer"),
				problem("400", "invalid_request: not exactly one of phone, card and id, or not a phone number."),
				problem("404", "customer_not_found: nobody has this phone, card or id, or the card is blocked or replaced (the detail says which).")}},
		{Method: "GET", Path: "/v1/customers/{id}", ID: "getCustomer", Tag: "Customers", Scope: "pos",
			Summary: "Read a customer", Desc: "The customer's profile and cards, with its balance and tier. The id of a customer merged into another answers the survivor (with the survivor's id); a deleted customer is 404.",
			Params:    []any{pathRef("CustomerID")},
			Responses: []resp{ok("200", "The customer, with its balance and tier.", "IdentifiedCustomer"), problem("404", "not_found: no such customer in this tenant.")}},
		{Method: "PATCH", Path: "/v1/customers/{id}", ID: "updateCustomer", Tag: "Customers", Scope: "pos",
			Summary: "Change a customer's profile",
			Desc:    "Changes the fields present: an absent or null field stays as it is, an empty string clears it. Every changed field is recorded in the customer's history with the key that changed it. Changing ad_consent records when (ad_consent_at). A phone another customer has is 409 conflict.",
			Params:  []any{pathRef("CustomerID")},
			Body:    &body{"CustomerPatch", true, "The fields to change."},
			Responses: []resp{ok("200", "The customer as changed.", "Customer"), invalid(),
				problem("404", "not_found: no such customer in this tenant."),
				problem("409", "conflict: another customer has this phone."), shared("413", "TooLarge")}},
		{Method: "DELETE", Path: "/v1/customers/{id}", ID: "deleteCustomer", Tag: "Customers", Scope: "admin",
			Summary: "Delete a customer on request",
			Desc:    "Deletes the customer at their request (152-FZ): the personal data is erased (names, phones, e-mail, birth date, gender, consent, tags, their values in the change history, external ids), also of customers merged into this one; the cards are blocked; the points left are forfeited by a deletion operation, so the ledger still proves every balance. The id keeps its ledger and is found no more: reading it is 404 not_found. Deleting again answers 204 too. A customer with pending purchases is 409 conflict (confirm or cancel them first); so is the id of a customer merged into another (delete the survivor).",
			Params:  []any{pathRef("CustomerID")},
			Responses: []resp{{Status: "204", Desc: "Deleted (or deleted before)."}, shared("403", "AdminOnly"),
				problem("404", "not_found: no such customer in this tenant."),
				problem("409", "conflict: the customer has pending purchases (the detail names them), or was merged into another."),
				shared("503", "Unavailable")}},
		{Method: "POST", Path: "/v1/customers/{id}/merge", ID: "mergeCustomer", Tag: "Customers", Scope: "admin", Idempotent: true,
			Summary: "Merge another customer into this one",
			Desc:    "Merges the customer from into the one in the path, the survivor, at once: from's cards, points (each portion with its activation and expiry), debt, purchase sum (the tier follows) and purchases become the survivor's; a merge operation in the survivor's history says what moved, and from's operations show there too. The survivor's profile keeps its values and takes from's where its own are empty; from's phone becomes the survivor's phone if it has none, else its extra phone if that is free. from's id, phone, cards and external ids go on identifying the survivor: GET /v1/customers/{from} answers the survivor (its own id in id). A customer with pending purchases cannot be merged (409 conflict naming them; confirm or cancel first), nor one already merged or deleted, nor customers of different kinds; from equal to the path id is 400.",
			Params:  []any{pathRef("CustomerID")},
			Body:    &body{"MergeInput", true, "The customer to merge."},
			Responses: []resp{ok("200", "The survivor as merged.", "Customer"),
				problem("400", "invalid_request: a malformed body, no from, or from is the customer itself."), shared("403", "AdminOnly"),
				problem("404", "not_found: no such customer in the path; customer_not_found: no customer from."),
				problem("409", "conflict: from has pending purchases, either customer was merged or deleted, their kinds differ, or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "GET", Path: "/v1/customers/{id}/history", ID: "customerHistory", Tag: "Customers", Scope: "pos",
			Summary: "Profile change history",
			Desc: "The changed fields, newest first, a page at a time: pass next_cursor as cursor for the next page; next_cursor is null on the last page. " +
				"For a key without the admin scope the old and new values of phone and extra_phone are masked (+7 *** ***-45-67).",
			Params: []any{pathRef("CustomerID"),
				queryParam("cursor", "next_cursor of the previous page.", false, &Schema{Type: "string"}), limitRef()},
			Responses: []resp{ok("200", "A page of changes.", "CustomerChangePage"),
				problem("400", "invalid_request: a limit out of range or a cursor this API did not give out."),
				problem("404", "not_found: no such customer in this tenant.")}},
		{Method: "GET", Path: "/v1/customers/{id}/balance", ID: "getBalance", Tag: "Customers", Scope: "pos",
			Summary:   "Points balance",
			Desc:      "available is spendable now; it is negative while a refund debt is open (the next accruals repay it first, and nothing can be redeemed meanwhile). pending is accrued but not yet confirmed or not yet active; reserved is held by pending purchases; expiring lists what burns when. The tier is the one reached by purchases_total.",
			Params:    []any{pathRef("CustomerID")},
			Responses: []resp{ok("200", "The balance.", "Balance"), problem("404", "not_found: no such customer in this tenant.")}},
		{Method: "GET", Path: "/v1/customers/{id}/operations", ID: "listOperations", Tag: "Customers", Scope: "pos",
			Summary: "Points history",
			Desc:    "The customer's ledger operations, newest first, a page at a time: pass next_cursor as cursor for the next page; next_cursor is null on the last page. amount is signed: what the operation does to the customer's points. A pending operation becomes complete or voided, and nothing changes after that.",
			Params: []any{pathRef("CustomerID"),
				queryParam("cursor", "next_cursor of the previous page.", false, &Schema{Type: "string"}), limitRef()},
			Responses: []resp{ok("200", "A page of operations.", "OperationPage"),
				problem("400", "invalid_request: a limit out of range or a cursor this API did not give out."),
				problem("404", "not_found: no such customer in this tenant.")}},
		{Method: "POST", Path: "/v1/customers/{id}/adjustments", ID: "createAdjustment", Tag: "Customers", Scope: "admin", Idempotent: true,
			Summary: "Adjust points by hand",
			Desc:    "Credits (positive amount) or debits (negative amount) the customer's points, with a reason the history shows. A credit expires as the programme says. A debit never overdraws: 422 insufficient_points. With external_id the adjustment happens once: the same request again returns the first operation, another request with that external_id is 409 conflict.",
			Params:  []any{pathRef("CustomerID")},
			Body:    &body{"AdjustmentInput", true, "The adjustment."},
			Responses: []resp{ok("201", "The adjustment operation.", "Operation"),
				problem("400", "invalid_request: a malformed body or a zero amount."), shared("403", "AdminOnly"),
				problem("404", "not_found: no such customer in this tenant."),
				problem("409", "conflict: the external_id or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"),
				problem("422", "insufficient_points: the debit is larger than the available balance."),
				shared("503", "Unavailable")}},
	}
	ops = append(ops, peopleOps()...)
	ops = append(ops, cardOps()...)
	ops = append(ops, transferOps()...)
	ops = append(ops, rules("promotion", "Promotions", "prm", "PromotionID")...)
	ops = append(ops, rules("offer", "Offers", "ofr", "OfferID")...)
	return append(ops, []op{
		{Method: "POST", Path: "/v1/purchases/calculate", ID: "calculatePurchase", Tag: "Purchases", Scope: "pos",
			Summary: "Price a receipt",
			Desc:    "Computes the receipt without side effects. Per line: amount = round_half_up(price × quantity) − discount; excluded lines (the programme's excluded_skus and excluded_categories) neither earn nor take points. max_redeem = min(available, floor(eligible × max_redeem_percent / 100), the eligible lines' room above min_line_price); redeem (hundredths, or \"max\") above it is 422 redeem_limit_exceeded. The redemption is spread over eligible lines in proportion to their room; accrue = floor(base × accrual_percent / 100), where base is the eligible lines' to_pay (accrue_on paid) or amount (accrue_on total), in whole points when the programme says so, spread over the lines in proportion to their base. The tier is the customer's current one.",
			Body:    &body{"CalculationRequest", true, "The receipt."},
			Responses: []resp{ok("200", "The computed receipt.", "Calculation"), invalid(), storeBound(),
				problem("404", "customer_not_found: no customer with this id, card or phone."),
				shared("413", "TooLarge"),
				problem("422", "redeem_limit_exceeded: redeem is above max_redeem.")}},
		{Method: "POST", Path: "/v1/purchases", ID: "createPurchase", Tag: "Purchases", Scope: "pos", Idempotent: true,
			Summary: "Register a purchase",
			Desc:    "Prices the receipt as calculate does and registers it as pending. The redemption is reserved at once: the points leave available (they show in reserved) and no other purchase can spend them. The accrual is pending until the purchase is confirmed; confirm: true completes it at once. The external_id (the receipt or order number) is unique within the tenant: the same request again returns the first purchase, another request with that external_id is 409 conflict. A refused purchase leaves nothing behind, so its external_id may be used again.",
			Body:    &body{"PurchaseRequest", true, "The receipt, with its external_id."},
			Responses: []resp{ok("201", "The purchase: pending, or complete with confirm: true.", "Purchase"), invalid(), storeBound(),
				problem("404", "customer_not_found: no customer with this id, card or phone."),
				problem("409", "conflict: the external_id or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"),
				problem("422", "redeem_limit_exceeded: redeem is above max_redeem; insufficient_points: the points were spent meanwhile; verification_required or verification_failed: the programme asks for the customer's code."),
				shared("503", "Unavailable")}},
		{Method: "GET", Path: "/v1/purchases", ID: "findPurchase", Tag: "Purchases", Scope: "pos",
			Summary: "Find a purchase by external_id", Desc: "The purchase registered with this external_id. A key bound to another store gets 403.",
			Params: []any{queryParam("external_id", "The purchase's external_id.", true, &Schema{Type: "string", MinLength: ptr(1)})},
			Responses: []resp{ok("200", "The purchase.", "Purchase"),
				problem("400", "invalid_request: no external_id."), storeBound(),
				problem("404", "not_found: no purchase with this external_id in this tenant.")}},
		{Method: "GET", Path: "/v1/purchases/{id}", ID: "getPurchase", Tag: "Purchases", Scope: "pos",
			Summary: "Read a purchase", Desc: "The purchase with its lines and how much of each was refunded. A key bound to another store gets 403.",
			Params: []any{pathRef("PurchaseID")},
			Responses: []resp{ok("200", "The purchase.", "Purchase"), storeBound(),
				problem("404", "not_found: no such purchase in this tenant.")}},
		{Method: "POST", Path: "/v1/purchases/{id}/confirm", ID: "confirmPurchase", Tag: "Purchases", Scope: "pos", Idempotent: true,
			Summary: "Confirm a purchase",
			Desc:    "Completes a pending purchase: the reserved redemption is posted; the accrual is posted, spendable after the programme's activation delay (and first repaying any refund debt); the purchase's total counts towards the tier. Confirming a complete purchase again returns it unchanged; a cancelled one is 409 conflict. No body, or {}.",
			Params:  []any{pathRef("PurchaseID")},
			Body:    &body{"EmptyBody", false, "Nothing, or an empty object."},
			Responses: []resp{ok("200", "The purchase, complete.", "Purchase"), invalid(), storeBound(),
				problem("404", "not_found: no such purchase in this tenant."),
				problem("409", "conflict: the purchase was cancelled, or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "POST", Path: "/v1/purchases/{id}/cancel", ID: "cancelPurchase", Tag: "Purchases", Scope: "pos", Idempotent: true,
			Summary: "Cancel a purchase",
			Desc:    "Voids a pending purchase: the reserved points are available again (points whose lots expired meanwhile burn at the next expiry run) and the pending accrual is voided. Cancelling again returns it unchanged; a complete purchase is 409 conflict: refund it instead. No body, or {}.",
			Params:  []any{pathRef("PurchaseID")},
			Body:    &body{"EmptyBody", false, "Nothing, or an empty object."},
			Responses: []resp{ok("200", "The purchase, cancelled.", "Purchase"), invalid(), storeBound(),
				problem("404", "not_found: no such purchase in this tenant."),
				problem("409", "conflict: the purchase is complete (refund it), or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "POST", Path: "/v1/purchases/{id}/refunds", ID: "createRefund", Tag: "Purchases", Scope: "pos", Idempotent: true,
			Summary: "Refund a purchase",
			Desc:    "Returns goods of a complete purchase: the lines and quantities given or, without lines, everything not yet refunded. Shares are path-independent: for a line of quantity q of which Q is refunded so far, the cumulative share of a figure F is floor(F × Q / q) (for the accrual, floored further to whole points when the programme rounds to whole points), and exactly F once Q = q; each refund takes the difference of the shares before and after it. points_returned (from the redemption) are available at once. points_revoked (from the accrual) come from the purchase's own points while they are not yet active, then from the available balance; what the balance cannot cover is debt: available goes negative, the next accruals repay it first, and the history says so. A pending purchase is 409 conflict (cancel it). The external_id is unique within the tenant: the same request again returns the first refund.",
			Params:  []any{pathRef("PurchaseID")},
			Body:    &body{"RefundInput", true, "The refund."},
			Responses: []resp{ok("201", "The refund.", "Refund"), invalid(), storeBound(),
				problem("404", "not_found: no such purchase in this tenant."),
				problem("409", "conflict: the purchase is not complete, or the external_id or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"),
				problem("422", "invalid_request: more than was bought, or everything was refunded already (type …/refund_exceeds_purchase)."),
				shared("503", "Unavailable")}},

		{Method: "GET", Path: "/healthz", ID: "health", Tag: "Service",
			Summary: "Health check", Desc: "200 when the database answers.",
			Responses: []resp{ok("200", "The server and its database work.", "Health"),
				problem("503", "unavailable: the database does not answer.")}},
		{Method: "GET", Path: "/v1/openapi.json", ID: "getOpenAPI", Tag: "Service",
			Summary: "This document", Desc: "The OpenAPI 3 description of this API.",
			Responses: []resp{ok("200", "The document.", "OpenAPIDocument")}},
		{Method: "GET", Path: "/docs", ID: "getDocs", Tag: "Service",
			Summary: "Readable documentation", Desc: "This document as one HTML page, with no scripts and no outside assets.",
			Responses: []resp{{Status: "200", Desc: "The page.", Content: "text/html"}}},
	}...)
}

// rules are the operations of promotions or personal offers, which share
// one shape under two paths.
func rules(kind, tag, prefix, param string) []op {
	path := "/v1/" + kind + "s"
	title := strings.ToUpper(kind[:1]) + kind[1:]
	what := map[string]string{
		"promotion": "A promotion applies to the goods (skus, categories) and stores it names, for every customer; tags and groups are refused.",
		"offer":     "A personal offer applies to customers with one of its tags or in one of its groups (one of them is needed), optionally narrowed to goods and stores.",
	}[kind]
	notFound := problem("404", "not_found: no such "+kind+" in this tenant.")
	return []op{
		{Method: "POST", Path: path, ID: "create" + title, Tag: tag, Scope: "admin", Idempotent: true,
			Summary: "Create a " + kind,
			Desc:    what + " Between starts_at and ends_at it adds to the accrual of the lines it covers, in this order: the tier accrual of a line; then the highest multiplier among the promotions covering it, applied to that accrual; then the extra percents of every covering promotion and offer, added up and taken of the line's accrual base. Each computed line shows the bonus and the rules that gave it. A rule needs a multiplier above 1 or an extra_percent above 0.",
			Body:    &body{"PromotionInput", true, "The " + kind + "."},
			Responses: []resp{ok("201", "The "+kind+".", "Promotion"), invalid(), shared("403", "AdminOnly"),
				problem("409", "conflict: the Idempotency-Key was used for another request."), shared("413", "TooLarge")}},
		{Method: "GET", Path: path, ID: "list" + title + "s", Tag: tag, Scope: "pos",
			Summary: "List " + kind + "s", Desc: "The " + kind + "s that have not ended, running or still to start.",
			Responses: []resp{ok("200", "The "+kind+"s.", "PromotionList")}},
		{Method: "GET", Path: path + "/{id}", ID: "get" + title, Tag: tag, Scope: "pos",
			Summary: "Read a " + kind, Desc: "One " + kind + ".",
			Params:    []any{pathRef(param)},
			Responses: []resp{ok("200", "The "+kind+".", "Promotion"), notFound}},
		{Method: "DELETE", Path: path + "/{id}", ID: "delete" + title, Tag: tag, Scope: "admin",
			Summary: "Delete a " + kind, Desc: "Removes the " + kind + "; receipts already computed keep what it gave them.",
			Params:    []any{pathRef(param)},
			Responses: []resp{{Status: "204", Desc: "Deleted."}, shared("403", "AdminOnly"), notFound}},
	}
}

// cardOps are the operations of card ranges and cards.
func cardOps() []op {
	notFound := problem("404", "not_found: no card with this number in this tenant.")
	conflict := func(what string) resp {
		return problem("409", "conflict: "+what+", or the Idempotency-Key was used for another request.")
	}
	return []op{
		{Method: "POST", Path: "/v1/customers/{id}/cards", ID: "issueCard", Tag: "Cards", Scope: "pos", Idempotent: true,
			Summary: "Issue a card",
			Desc:    "Issues a card to the customer. With number, that number is bound: a plastic card's printed number, or the customer's id in another system (MoySklad's counterparty id, say) used as the card code; a number any card of the tenant has is 409 conflict, and a number shaped like a range's with a wrong check digit is 400. Without number, the card gets the next free number of a range: range_id's, or else the newest range for the card's kind that has numbers left, or else the newest range for both kinds (one without kind) that has. Numbers bound by hand are skipped; no number is issued twice, and none is skipped otherwise, however many cards are issued at once. An electronic card applies the tenant settings (GET /v1/settings): the customer's active plastic cards are replaced by it when electronic_deactivates_plastic, and the customer joins electronic_card_group when it is set. Every change goes to the customer's history.",
			Params:  []any{pathRef("CustomerID")},
			Body:    &body{"CardInput", true, "The card to issue."},
			Responses: []resp{ok("201", "The card.", "CardDetail"),
				problem("400", "invalid_request: a malformed body, an unknown or unsuitable range_id, both number and range_id, or a mistyped check digit."),
				problem("404", "not_found: no such customer in this tenant."),
				conflict("the number is taken, no range has a number left for the kind, or range_id's range is used up"),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},

		{Method: "POST", Path: "/v1/card-ranges", ID: "createCardRange", Tag: "Cards", Scope: "admin", Idempotent: true,
			Summary: "Create a card range",
			Desc:    "A series of card numbers: the prefix, then the sequence number zero-padded to width digits (start 1, width 4: 0001, 0002 …), then a check digit when check_digit says so: luhn (Luhn mod 10, as on bank cards) or ean13 (the EAN-13 check digit; the whole number is then 13 digits, so prefix + width must be 12). The sequence runs from start (default 1) to end (default the largest width digits hold). Ranges never overlap: a range that could make a number some card of the tenant already has (issued or imported), or a number another range can make, is 409 conflict, and the detail names the clashing numbers and ranges. Numbers compare as strings, so ranges of different prefixes, widths or check digits overlap when one string can come from both (prefix 4 with width 7 makes 46000001, as prefix 46 with width 6 does). kind limits the range to plastic or electronic cards; without it the range serves both.",
			Body:    &body{"CardRangeInput", true, "The range."},
			Responses: []resp{ok("201", "The range.", "CardRange"), invalid(), shared("403", "AdminOnly"),
				conflict("the range overlaps numbers already issued or another range's numbers (the detail names them)"),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "GET", Path: "/v1/card-ranges", ID: "listCardRanges", Tag: "Cards", Scope: "pos",
			Summary:   "List card ranges",
			Desc:      "Every range, oldest first, with issued (cards whose numbers belong to the range, however they were bound) and left (numbers the counter can still issue).",
			Responses: []resp{ok("200", "The ranges.", "CardRangeList")}},

		{Method: "GET", Path: "/v1/cards/{number}", ID: "getCard", Tag: "Cards", Scope: "pos",
			Summary:   "Read a card",
			Desc:      "The card, in any status, as a card view shows it: its holder's id and name, and the holder's balance, points expiring and when, purchases total and tier.",
			Params:    []any{cardRef()},
			Responses: []resp{ok("200", "The card with its holder.", "CardView"), notFound}},
		{Method: "GET", Path: "/v1/cards/{number}/barcode", ID: "cardBarcode", Tag: "Cards", Scope: "pos",
			Summary: "The card's barcode as an image",
			Desc: "The card's number drawn as a barcode, for a wallet, a self-service page or printing. The image shows the card's own number (a scanned EAN-13 in the path finds the card, as GET /v1/cards/{number} does), with the quiet zones its symbology needs and, under a linear code, the number in digits. " +
				"EAN-13 takes digits only: a 13-digit number must end in its EAN-13 check digit; a number of 1 to 12 digits is padded with leading zeros to 12 and given its check digit, and a till scanning it finds the card again. Any other number asked as ean13 is 422 invalid_request (type …/not_encodable). " +
				"Code 128 takes printable ASCII up to 80 characters (code set C for runs of four digits or more, else B); QR takes any card number, with error correction M. " +
				"The image of a number never changes: Cache-Control lets the client keep it for a year (private).",
			Params: []any{cardRef(),
				queryParam("type", "ean13, code128 or qr; without it, ean13 when the number is a valid EAN-13 (13 digits ending in their check digit), else code128.", false,
					&Schema{Type: "string", Enum: []any{"ean13", "code128", "qr"}}),
				queryParam("format", "svg (the default) or png.", false, &Schema{Type: "string", Enum: []any{"svg", "png"}, Default: "svg"}),
				queryParam("scale", "Pixels a module (CSS pixels in SVG): 1 to 20; without it 3 for ean13 and code128, 8 for qr.", false,
					&Schema{Type: "integer", Minimum: 1, Maximum: 20}),
			},
			Responses: []resp{{Status: "200", Desc: "The image: image/svg+xml (crisp-edged rectangles in module units, width and height scale pixels a module) or a two-colour image/png.", Media: []string{"image/svg+xml", "image/png"}},
				problem("400", "invalid_request: type, format or scale is not one of the values allowed; field names it."),
				notFound,
				problem("422", "invalid_request: the number does not fit the type asked (ean13 for a number that is not 1 to 13 digits, or 13 digits with a wrong check digit; type …/not_encodable).")}},
		{Method: "POST", Path: "/v1/cards/{number}/block", ID: "blockCard", Tag: "Cards", Scope: "pos", Idempotent: true,
			Summary: "Block a card",
			Desc:    "A blocked card identifies nobody: purchases by it and GET /v1/customers?card= answer 404 customer_not_found until it is unblocked. The points stay with the customer. Blocking a blocked card returns it unchanged; a replaced card is 409 conflict. No body, or {}.",
			Params:  []any{cardRef()},
			Body:    &body{"EmptyBody", false, "Nothing, or an empty object."},
			Responses: []resp{ok("200", "The card, blocked.", "CardDetail"), invalid(), notFound,
				conflict("the card was replaced"), shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "POST", Path: "/v1/cards/{number}/unblock", ID: "unblockCard", Tag: "Cards", Scope: "pos", Idempotent: true,
			Summary: "Unblock a card",
			Desc:    "The card is active again and identifies its holder. Unblocking an active card returns it unchanged; a replaced card is 409 conflict. No body, or {}.",
			Params:  []any{cardRef()},
			Body:    &body{"EmptyBody", false, "Nothing, or an empty object."},
			Responses: []resp{ok("200", "The card, active.", "CardDetail"), invalid(), notFound,
				conflict("the card was replaced"), shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "POST", Path: "/v1/cards/{number}/replace", ID: "replaceCard", Tag: "Cards", Scope: "pos", Idempotent: true,
			Summary: "Replace a card",
			Desc:    "Issues a new card of the same kind to the same customer and retires this one: its status becomes replaced, replaced_by names the new card, and it never identifies anyone again. The balance does not move: points belong to the customer, not to the card. The new number is number when given (the new plastic card's), else the next free number of range_id's range, else of the old card's range, else of the newest range for the kind, else of the newest range for both kinds. A new electronic card applies the tenant settings as issuing does. Active and blocked cards may be replaced; a replaced card is 409 conflict. The body may be empty.",
			Params:  []any{cardRef()},
			Body:    &body{"ReplaceInput", false, "Where the new card's number comes from; nothing or {} for a range."},
			Responses: []resp{ok("201", "The new card.", "CardDetail"),
				problem("400", "invalid_request: a malformed body, an unknown or unsuitable range_id, both number and range_id, or a mistyped check digit."),
				notFound, conflict("the card was replaced already, the new number is taken, or no range has a number left"),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
	}
}
