package openapigen

// The operations and schemas of customer search and consents.

const searchDesc = "The tenant's customers that match every filter given (none: all of them), newest first, a page at a time: pass next_cursor as cursor for the next page; next_cursor is null on the last page. " +
	"Personal data is kept encrypted, so phone, email and name match exactly, through keyed blind indexes: phone in any common notation (compared in E.164); email without regard to case; name is one or more words (separated by spaces or hyphens), each of which must be one of the customer's last, first or middle name words, without regard to case, ё read as е (\"Петрова\" finds Анна Петрова and Мария Петрова-Водкина; \"Петр\" finds Пётр; a prefix such as \"Пет\" finds nobody). " +
	"card is any card number of the customer, whatever its status; tag one of its tags, without regard to case; group its group exactly. To identify one customer at the till, GET /v1/customers?phone=|card=|id= is the call. " +
	"A key without the admin scope (a till's pos key) gets phone and extra_phone masked, as phone_masked and extra_phone_masked are (+7 *** ***-45-67): a till tells customers apart by them but does not collect numbers by searching; an admin key sees the numbers in full."

func peopleOps() []op {
	kind := paramRef{"ConsentKind", "path", "kind"}
	return []op{
		{Method: "GET", Path: "/v1/customers/search", ID: "searchCustomers", Tag: "Customers", Scope: "pos",
			Summary: "Search customers", Desc: searchDesc,
			Params: []any{
				queryParam("phone", "A phone in any common notation.", false, &Schema{Type: "string"}),
				queryParam("email", "An e-mail address, any case.", false, &Schema{Type: "string"}),
				queryParam("name", "Name words: each must be one of the customer's last, first or middle name words.", false, &Schema{Type: "string"}),
				queryParam("card", "A card number of the customer.", false, &Schema{Type: "string"}),
				queryParam("tag", "A tag of the customer.", false, &Schema{Type: "string"}),
				queryParam("group", "The customer's group.", false, &Schema{Type: "string"}),
				queryParam("cursor", "next_cursor of the previous page.", false, &Schema{Type: "string"}), limitRef(),
			},
			Responses: []resp{ok("200", "A page of customers.", "CustomerPage"),
				problem("400", "invalid_request: a phone that is not a phone number, a limit out of range or a cursor this API did not give out.")}},
		{Method: "GET", Path: "/v1/customers/{id}/consents", ID: "listConsents", Tag: "Customers", Scope: "pos",
			Summary: "Consent history",
			Desc:    "Every consent the customer gave or withdrew, oldest first, and which are in force now (the latest record of each kind). 152-FZ: consent to processing personal data and consent to marketing messages are separate, each with when and where it was given or withdrawn. Records are never changed.",
			Params:  []any{pathRef("CustomerID")},
			Responses: []resp{ok("200", "The consent history.", "ConsentList"),
				problem("404", "not_found: no such customer in this tenant.")}},
		{Method: "POST", Path: "/v1/customers/{id}/consents", ID: "giveConsent", Tag: "Customers", Scope: "pos", Idempotent: true,
			Summary: "Record a consent given",
			Desc:    "Records that the customer gave a consent now, through source. Giving a consent in force records a renewal. A marketing consent sets the customer's ad_consent (and ad_consent_at); the profile history notes the change.",
			Params:  []any{pathRef("CustomerID")},
			Body:    &body{"ConsentInput", true, "The consent."},
			Responses: []resp{ok("201", "The record.", "Consent"), invalid(),
				problem("404", "not_found: no such customer in this tenant."),
				problem("409", "conflict: the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
		{Method: "POST", Path: "/v1/customers/{id}/consents/{kind}/withdraw", ID: "withdrawConsent", Tag: "Customers", Scope: "pos", Idempotent: true,
			Summary: "Record a consent withdrawn",
			Desc:    "Records that the customer withdrew a consent in force now, through source (the body may be left out: source api). Withdrawing marketing clears ad_consent. Withdrawing personal_data records the withdrawal; the merchant must then stop processing and delete or anonymise the data as the law says.",
			Params:  []any{pathRef("CustomerID"), kind},
			Body:    &body{"WithdrawInput", false, "Where the withdrawal came from."},
			Responses: []resp{ok("201", "The record.", "Consent"), invalid(),
				problem("404", "not_found: no such customer in this tenant."),
				problem("409", "conflict: the consent is not in force, or the Idempotency-Key was used for another request."),
				shared("413", "TooLarge"), shared("503", "Unavailable")}},
	}
}

const sourceDesc = "Where it came from: pos, web, widget, api, import, operator, paper or moysklad; default api."

var consentSources = []any{"pos", "web", "widget", "api", "import", "operator", "paper", "moysklad"}

func peopleSpecs() []structSpec {
	return []structSpec{
		{Name: "Consent", Desc: "One record of a customer's consent history.", Fields: map[string]Field{
			"id":          {Desc: "Record id (cns_…)."},
			"customer_id": {Desc: "Customer id."},
			"kind":        {Desc: "personal_data (processing of personal data) or marketing (advertising messages).", Enum: []any{"personal_data", "marketing"}},
			"action":      {Desc: "given or withdrawn.", Enum: []any{"given", "withdrawn"}},
			"source":      {Desc: "Where it came from.", Enum: consentSources},
			"actor":       {Desc: "Who recorded it: the API key id, or cli or system."},
			"created_at":  {Desc: "When."},
		}},
		{Name: "ConsentInput", Mode: input, Desc: "A consent given.", Required: []string{"kind"}, Fields: map[string]Field{
			"kind":   {Desc: "personal_data or marketing.", Enum: []any{"personal_data", "marketing"}},
			"source": {Desc: sourceDesc, Enum: consentSources, Default: "api"},
		}},
		{Name: "WithdrawInput", Mode: input, Desc: "Where a withdrawal came from.", Fields: map[string]Field{
			"source": {Desc: sourceDesc, Enum: consentSources, Default: "api"},
		}},
	}
}

func peopleSchemas() []Property {
	return []Property{
		{"CustomerPage", &Schema{Type: "object", Description: "A page of customers.", Required: []string{"items", "next_cursor"}, Properties: Properties{
			{"items", &Schema{Type: "array", Description: "This page, newest first.", Items: ref("Customer")}},
			{"next_cursor", &Schema{Type: "string", Nullable: true, Description: "Pass as cursor for the next page; null on the last page."}},
		}}},
		{"ConsentList", &Schema{Type: "object", Description: "A customer's consent history.", Required: []string{"items", "in_force"}, Properties: Properties{
			{"items", &Schema{Type: "array", Description: "Every record, oldest first.", Items: ref("Consent")}},
			{"in_force", &Schema{Type: "object", Description: "Whether each consent is in force now.", Required: []string{"personal_data", "marketing"},
				Properties: Properties{
					{"personal_data", &Schema{Type: "boolean", Description: "Consent to processing personal data."}},
					{"marketing", &Schema{Type: "boolean", Description: "Consent to marketing messages (the customer's ad_consent)."}},
				}}},
		}}},
	}
}
