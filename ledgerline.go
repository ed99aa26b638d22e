// Package ledgerline is the root package Google's Go buildpack compiles: it imports the
// functions framework and every function package, whose init() registers the function
// under its entry point. Each deployment selects one with FUNCTION_TARGET.
package ledgerline

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "github.com/ledgerline/ledgerline/functions/counterparties/create"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/get"
	_ "github.com/ledgerline/ledgerline/functions/counterparties/list"
	_ "github.com/ledgerline/ledgerline/functions/invoices/create"
	_ "github.com/ledgerline/ledgerline/functions/invoices/get"
	_ "github.com/ledgerline/ledgerline/functions/invoices/list"
)
