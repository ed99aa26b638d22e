// Package imports brings counterparties, invoices and payments into a tenant's books in
// bulk, from the CSV and Excel files finance teams export from their ERPs and banks.
//
// An import runs in two halves. The request reads the whole file, checks its shape
// (encoding, delimiter, header, types of every cell) and turns its rows into records,
// one per thing to write (an invoice spans one row per line); it stores the records in
// chunks and publishes one message per chunk. The import-chunk processor then applies a
// chunk in one transaction: each record is upserted by its external id, so a chunk
// delivered twice, or a file imported twice, changes nothing the second time. Rows that
// cannot be imported are kept with their row number, column and reason, and can be
// downloaded as a CSV to fix and upload again.
package imports

import (
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// Kind is what a file imports.
type Kind string

const (
	Counterparties Kind = "counterparties"
	Invoices       Kind = "invoices"
	Payments       Kind = "payments"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Counterparties || k == Invoices || k == Payments }

// Row is one data row of a file: its number as a spreadsheet shows it (the header is
// row 1, so the first data row is 2; in a CSV with quoted line breaks, the number of
// the record, not of the physical line) and its cells by canonical column name. Blank
// cells are absent.
type Row struct {
	Number int
	Cells  map[string]string
}

// RowError is why one row cannot be imported: the row number as in Row, the canonical
// column at fault (empty when the row as a whole is), and the reason in words.
type RowError struct {
	Row    int    `json:"row"`
	Column string `json:"column,omitempty"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// CounterpartyRecord is one counterparty to upsert; Input.ExternalID is set.
type CounterpartyRecord struct {
	Rows  []int                      `json:"rows"`
	Input counterparties.CreateInput `json:"input"`
}

// InvoiceRecord is one invoice to upsert, from one or more rows (one per line) sharing
// its external id. Input.ExternalID is set; Input.CounterpartyID is resolved from
// CounterpartyExternalID when the record is applied, because the counterparty may be
// created by an earlier import of the same batch of files.
type InvoiceRecord struct {
	Rows                   []int                `json:"rows"`
	CounterpartyExternalID string               `json:"counterparty_external_id"`
	Input                  invoices.CreateInput `json:"input"`
}

// PaymentRecord is one payment to upsert; Input.ExternalID is set. Its counterparty
// and the invoices it is allocated to are named by their external ids and resolved
// when the record is applied.
type PaymentRecord struct {
	Rows                   []int                `json:"rows"`
	CounterpartyExternalID string               `json:"counterparty_external_id"`
	Input                  payments.CreateInput `json:"input"`
	Allocations            []AllocationRecord   `json:"allocations,omitempty"`
}

// AllocationRecord allocates part of an imported payment to an invoice.
type AllocationRecord struct {
	InvoiceExternalID string `json:"invoice_external_id"`
	AmountMinor       int64  `json:"amount_minor"`
}

// Records are a file's records of its one kind, in file order, with the rows that
// could not become records.
type Records struct {
	Kind           Kind                 `json:"kind"`
	Counterparties []CounterpartyRecord `json:"counterparties,omitempty"`
	Invoices       []InvoiceRecord      `json:"invoices,omitempty"`
	Payments       []PaymentRecord      `json:"payments,omitempty"`
	Errors         []RowError           `json:"errors,omitempty"`
	// Rows is the number of data rows read.
	Rows int `json:"rows"`
	// IgnoredColumns are the headers, in file order, that name no column of the kind:
	// their cells were not read. Reported so that a misspelt optional column does not
	// go unnoticed.
	IgnoredColumns []string `json:"ignored_columns,omitempty"`
	// Cells are the cells of every data row read, by row number (Row.Number), as Row
	// holds them: canonical column → cell text, blank cells absent. A row can fail
	// when its record is applied, long after the file was read (an unknown
	// counterparty, an invoice issued since), and the errors download gives failed
	// rows back as they were uploaded, to be fixed and imported again; so the cells of
	// every row are kept with its chunk, not only those of rows that failed reading.
	// Every row number in Errors and in a record's Rows has its cells here.
	Cells map[int]map[string]string `json:"-"`
}
