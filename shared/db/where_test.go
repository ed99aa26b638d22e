package db_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db"
)

func TestWhereNumbersPlaceholdersInOrder(t *testing.T) {
	w := db.NewWhere("tenant_id = ?", "t")
	w.Add("status = ?", "open")
	w.Add("(due_date, id) > ((SELECT due_date FROM invoices WHERE id = ?), ?)", "c")
	limit := w.Arg(21)
	require.Equal(t, "tenant_id = $1 AND status = $2 AND (due_date, id) > ((SELECT due_date FROM invoices WHERE id = $3), $3)", w.SQL())
	require.Equal(t, "$4", limit)
	require.Equal(t, []any{"t", "open", "c", 21}, w.Args())
}
