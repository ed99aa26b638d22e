// Command ledgerline is the developer and operator CLI:
//
//	ledgerline dev                  run every function on one port over a throwaway PostgreSQL
//	ledgerline serve                run the registered functions as production does (FUNCTION_TARGET)
//	ledgerline migrate up|down|status
//	ledgerline token --tenant ID --roles admin
//	ledgerline bench [--smoke]      load, capacity and cold-start benchmark
//	ledgerline import FILE --kind invoices [--dry-run] [--server URL] [--token T]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ledgerline <command> [flags]

commands:
  dev       run the whole system locally: throwaway PostgreSQL (unless DATABASE_URL),
            migrations, in-process Pub/Sub (unless PUBSUB_EMULATOR_HOST), every
            function on one port at its API path, /docs, and a dev token
  serve     serve the functions as the Cloud Run runtime does; FUNCTION_TARGET=<entry
            point> serves just that one at /, configuration from the environment
  migrate   up | down | status, against DATABASE_URL or INSTANCE_CONNECTION_NAME
  token     print a development bearer token the dev server accepts
  bench     benchmark the functions as production runs them: durable throwaway
            PostgreSQL, a seeded dataset, each function its own process; open-model
            load, pgbench comparison, cold starts (--smoke for a quick run)
  import    upload a CSV or XLSX file of counterparties, invoices or payments to a
            running server and follow the import to its end (import -h for more)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "dev":
		err = runDev(ctx, args)
	case "serve":
		err = runServe(ctx, args)
	case "migrate":
		err = runMigrate(ctx, args)
	case "token":
		err = runToken(ctx, args)
	case "bench":
		err = runBench(ctx, args)
	case "import":
		err = runImport(ctx, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledgerline:", err)
		os.Exit(exitCode(err))
	}
}
