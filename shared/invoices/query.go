package invoices

import "github.com/ledgerline/ledgerline/shared/httpx"

// ParseListFilter reads the invoice filters of a query string (direction, status,
// counterparty_id, currency, due_before, due_after, issued_from, issued_to, overdue,
// sort), so InvoicesList and InvoicesExport select invoices by the very same rules.
// Problems are recorded in q and reported by q.Err.
func ParseListFilter(q *httpx.Query) ListFilter {
	f := ListFilter{
		Direction:      httpx.Enum(q, "direction", Direction.Valid, "must be receivable or payable"),
		Status:         httpx.Enum(q, "status", Status.Valid, "must be draft, open, paid, void or uncollectible"),
		CounterpartyID: q.UUID("counterparty_id"),
		Currency:       q.Currency("currency"),
		DueBefore:      q.Date("due_before"),
		DueAfter:       q.Date("due_after"),
		IssuedFrom:     q.Date("issued_from"),
		IssuedTo:       q.Date("issued_to"),
		Overdue:        q.Bool("overdue"),
		Sort:           SortCreated,
	}
	if s := httpx.Enum(q, "sort", Sort.Valid, "must be created or due_date"); s != nil {
		f.Sort = *s
	}
	return f
}
