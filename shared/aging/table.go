package aging

import (
	"fmt"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/tabular"
)

// WriteTable writes r as a spreadsheet: one row per counterparty and currency, then a
// total row per currency (no counterparty id, named "Total"), with a column per bucket.
func WriteTable(w http.ResponseWriter, f tabular.Format, r Report) error {
	ranges := Ranges(r.Edges)
	cols := []tabular.Column{
		{Header: "counterparty_id", Kind: tabular.Text},
		{Header: "counterparty_name", Kind: tabular.Text},
		{Header: "currency", Kind: tabular.Text},
		{Header: "current", Kind: tabular.Amount},
	}
	for _, rg := range ranges[:len(ranges)-1] {
		cols = append(cols, tabular.Column{Header: fmt.Sprintf("days_%d_%d", rg.FromDays, *rg.ToDays), Kind: tabular.Amount})
	}
	cols = append(cols,
		tabular.Column{Header: fmt.Sprintf("days_%d_plus", ranges[len(ranges)-1].FromDays), Kind: tabular.Amount},
		tabular.Column{Header: "total", Kind: tabular.Amount},
		tabular.Column{Header: "invoice_count", Kind: tabular.Integer},
	)
	name := fmt.Sprintf("aging-%s-%s", r.Direction, r.AsOf)
	tw, err := tabular.NewWriter(w, f, name, cols)
	if err != nil {
		return err
	}
	row := func(id, name, currency string, current int64, buckets []int64, older, total, count int64) error {
		cells := []tabular.Cell{tabular.TextCell(id), tabular.TextCell(name), tabular.TextCell(currency), tabular.AmountCell(current, currency)}
		for _, amount := range buckets {
			cells = append(cells, tabular.AmountCell(amount, currency))
		}
		cells = append(cells, tabular.AmountCell(older, currency), tabular.AmountCell(total, currency), tabular.IntCell(count))
		return tw.WriteRow(cells...)
	}
	for _, l := range r.Lines {
		if err := row(l.CounterpartyID.String(), l.CounterpartyName, l.Currency, l.CurrentMinor, l.Buckets, l.OlderMinor, l.TotalMinor, l.InvoiceCount); err != nil {
			return err
		}
	}
	for _, t := range r.Totals {
		if err := row("", "Total", t.Currency, t.CurrentMinor, t.Buckets, t.OlderMinor, t.TotalMinor, t.InvoiceCount); err != nil {
			return err
		}
	}
	return tw.Close()
}
