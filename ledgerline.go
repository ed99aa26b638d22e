// Package ledgerline is the root package Google's Go buildpack compiles: it imports the
// functions framework and every function package, whose init() registers the function
// under its entry point. Each deployment selects one with FUNCTION_TARGET.
package ledgerline

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "github.com/ledgerline/ledgerline/functions/allocations/reverse"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/create"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/delete"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/get"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/list"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/update"
	_ "github.com/ledgerline/ledgerline/functions/creditnotes/create"
	_ "github.com/ledgerline/ledgerline/functions/creditnotes/list"
	_ "github.com/ledgerline/ledgerline/functions/invoices/create"
	_ "github.com/ledgerline/ledgerline/functions/invoices/delete"
	_ "github.com/ledgerline/ledgerline/functions/invoices/finalize"
	_ "github.com/ledgerline/ledgerline/functions/invoices/get"
	_ "github.com/ledgerline/ledgerline/functions/invoices/list"
	_ "github.com/ledgerline/ledgerline/functions/invoices/markuncollectible"
	_ "github.com/ledgerline/ledgerline/functions/invoices/update"
	_ "github.com/ledgerline/ledgerline/functions/invoices/void"
	_ "github.com/ledgerline/ledgerline/functions/payments/allocate"
	_ "github.com/ledgerline/ledgerline/functions/payments/create"
	_ "github.com/ledgerline/ledgerline/functions/payments/get"
	_ "github.com/ledgerline/ledgerline/functions/payments/list"
	_ "github.com/ledgerline/ledgerline/functions/payments/reverse"
	_ "github.com/ledgerline/ledgerline/functions/processors/outboxsweep"
)
