package openapigen

// The operations and schemas of imports and exports.

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

const columnsDesc = "The columns (header names matched without regard to case, spaces, _ and -, in English or Russian): " +
	"external_id (внешний id), phone (телефон), last_name (фамилия), first_name (имя), middle_name (отчество), " +
	"email (почта), birth_date (дата рождения), gender (пол), card (номер карты), balance (баланс, бонусы), " +
	"purchases_total (сумма покупок), tags (теги); a full_name (ФИО) column is split into the three names. " +
	"Unknown columns are ignored. Amounts are currency units with . or , before at most two decimals; spaces group " +
	"thousands (1 234,50); , and . never group thousands, so 1,234 is refused. Dates are YYYY-MM-DD or DD.MM.YYYY; " +
	"gender male/female or м/ж; tags and cards are lists separated by , or ;. CSV may be UTF-8 (with or without a " +
	"byte-order mark), Windows-1251 or UTF-16 with a byte-order mark, with , ; or tab between fields: what Excel " +
	"writes in a Russian locale. XLSX is read from the active sheet."

func transferOps() []op {
	format := func(desc string) object {
		return queryParam("format", desc, false, &Schema{Type: "string", Enum: []any{"csv", "xlsx"}})
	}
	exportFormat := format("csv (the default) or xlsx.")
	files := []string{"text/csv", xlsxType}
	exportAnswer := resp{Status: "200", Desc: "The file, streamed as it is read (Content-Disposition: attachment). CSV: UTF-8, , between fields, amounts in currency units with a . and two decimals, phones E.164, dates YYYY-MM-DD, times RFC 3339 UTC, text cells that start with = + - or @ behind an apostrophe (imports take it off again).", Media: files}
	badFormat := problem("400", "invalid_request: format is not csv or xlsx.")
	return []op{
		{Method: "POST", Path: "/v1/imports", ID: "createImport", Tag: "Imports and exports", Scope: "admin", Idempotent: true,
			Summary: "Import customers from a file",
			Desc: "Receives a customers file (CSV or XLSX, at most 100 MiB) and imports it in the background: the answer is the job, queued; GET /v1/imports/{id} (the Location header) shows its progress and outcome. " + columnsDesc +
				"\n\nEach row names its customer by external_id (a cus_… id of this tenant matches that customer), else phone, else card, and creates one when none matches; a row needs at least one of the three, and no two rows may share one. An empty cell leaves the field as it is; changed fields go to the customer's history. balance is the target available balance: the difference from the current one is an import operation (positive or negative; a negative balance is a debt), with the programme's expiry, so importing the same file again changes nothing. purchases_total replaces the accumulated purchase sum and so places the customer in a tier. Imported customers get no welcome bonus." +
				"\n\nA file with a bad row writes nothing: every row is checked first, against the database too, and the job fails listing each bad line and column (status failed, errors). With skip_bad_rows=true the good rows are imported and the bad ones listed (status done). With dry_run=true nothing is written: the job counts what would be created, updated and left unchanged. A job whose server stops fails; uploading the file again completes the import.",
			Params: []any{
				queryParam("dry_run", "Check the file and count what would change; write nothing.", false, &Schema{Type: "boolean", Default: false}),
				queryParam("skip_bad_rows", "Import the good rows of a file with bad ones.", false, &Schema{Type: "boolean", Default: false}),
				format("csv or xlsx; without it the Content-Type says, and for application/octet-stream the file's first bytes."),
			},
			Body:   &body{"", true, "The file."},
			Upload: append(append([]string(nil), files...), "application/octet-stream"),
			Responses: []resp{ok("202", "The job, queued.", "ImportJob"),
				problem("400", "invalid_request: an empty body, an unknown Content-Type, a format that is not the file's, or a malformed parameter."),
				shared("403", "AdminOnly"),
				problem("409", "conflict: the Idempotency-Key was used for another request."),
				problem("413", "invalid_request: the file is larger than 100 MiB (type …/payload_too_large)."),
				shared("503", "Unavailable")}},
		{Method: "GET", Path: "/v1/imports/{id}", ID: "getImport", Tag: "Imports and exports", Scope: "admin",
			Summary: "An import's progress and outcome",
			Desc:    "The job: queued, running (phase checking, then importing; percent of the whole; rows_done of rows_total once the check has counted them), done or failed, with the counts and the bad rows (the first 1000; bad_rows counts them all). A job whose server stopped shows failed.",
			Params:  []any{pathRef("ImportID")},
			Responses: []resp{ok("200", "The job.", "ImportJob"), shared("403", "AdminOnly"),
				problem("404", "not_found: no such import job in this tenant.")}},
		{Method: "GET", Path: "/v1/exports/customers", ID: "exportCustomers", Tag: "Imports and exports", Scope: "admin",
			Summary:   "Export customers",
			Desc:      "Every customer in the columns imports read: external_id (the imported one, or the customer's own cus_… id), phone, last_name, first_name, middle_name, email, birth_date, gender, card (the active cards, joined with \", \"), balance (available now; negative while in debt), purchases_total, tags. Imported into an empty tenant it gives the same customers and balances.",
			Params:    []any{exportFormat},
			Responses: []resp{exportAnswer, badFormat, shared("403", "AdminOnly")}},
		{Method: "GET", Path: "/v1/exports/balances", ID: "exportBalances", Tag: "Imports and exports", Scope: "admin",
			Summary:   "Export balances",
			Desc:      "Each customer's points position: external_id, phone, card, balance (available now), pending, reserved, purchases_total and tier. An import reads its external_id, phone, card, balance and purchases_total.",
			Params:    []any{exportFormat},
			Responses: []resp{exportAnswer, badFormat, shared("403", "AdminOnly")}},
		{Method: "GET", Path: "/v1/exports/operations", ID: "exportOperations", Tag: "Imports and exports", Scope: "admin",
			Summary: "Export operations of a period",
			Desc:    "The points operations created in the period, oldest first: id, created_at, customer_id, customer_external_id, type, status, amount (currency units, signed), purchase_id, external_id, message.",
			Params: []any{exportFormat,
				queryParam("from", "First day (YYYY-MM-DD, in the programme's time zone) or time (RFC 3339); without it, the beginning.", false, &Schema{Type: "string"}),
				queryParam("to", "Last day, included (YYYY-MM-DD), or time, excluded (RFC 3339); without it, now.", false, &Schema{Type: "string"}),
			},
			Responses: []resp{exportAnswer, problem("400", "invalid_request: format is not csv or xlsx, from or to is not a date or a time, or the period is empty."),
				shared("403", "AdminOnly")}},
	}
}

func transferSpecs() []structSpec {
	return []structSpec{
		{Name: "ImportJob", Desc: "An import running in the background.", Fields: map[string]Field{
			"id":            {Desc: "Job id (imp_…)."},
			"status":        {Desc: "queued, running, done (the import, or the dry run, went through) or failed (nothing or not everything written: a bad file, a stopped server, an error).", Enum: []any{"queued", "running", "done", "failed"}},
			"phase":         {Desc: "While running: checking (every row, against the database too) or importing; null otherwise.", Enum: []any{"checking", "importing"}},
			"format":        {Desc: "csv or xlsx.", Enum: []any{"csv", "xlsx"}},
			"dry_run":       {Desc: "Nothing is written; the counts say what would be."},
			"skip_bad_rows": {Desc: "The good rows of a file with bad ones are imported."},
			"size":          {Desc: "Bytes of the file."},
			"percent":       {Desc: "How far the whole job has come.", Min: 0, Max: 100},
			"rows_total":    {Desc: "Rows of the file (without the header and blank rows), once counted; null before."},
			"rows_done":     {Desc: "Rows read so far in the current phase; all of them at the end."},
			"created":       {Desc: "Customers created (or that would be, in a dry run)."},
			"updated":       {Desc: "Customers changed."},
			"unchanged":     {Desc: "Rows that changed nothing."},
			"bad_rows":      {Desc: "Rows refused."},
			"errors":        {Desc: "The bad rows, the first 1000, by line."},
			"message":       {Desc: "What happened, for people; empty while running."},
			"created_at":    {Desc: "When the file arrived."},
			"updated_at":    {Desc: "When the job last reported (every second or so while it runs)."},
			"finished_at":   {Desc: "When it ended, or null."},
		}},
		{Name: "ImportError", Desc: "A problem with a row of an import file.", Fields: map[string]Field{
			"line":    {Desc: "The line of the CSV file (or row of the sheet) where the record starts; 0 for the file as a whole."},
			"column":  {Desc: "The column at fault (its canonical name, such as phone), or empty for the whole row."},
			"message": {Desc: "Why, for people, such as \"8 912\" is not a phone number."},
		}},
	}
}
