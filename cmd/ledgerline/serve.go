package main

import (
	"context"
	"flag"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/ledgerline/ledgerline" // registers every function
)

// runServe is what the Go buildpack's generated main does: start the functions
// framework, which serves FUNCTION_TARGET alone at / (or every function at /<Name>).
func runServe(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	_ = fs.Parse(args)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return funcframework.StartHostPort(*host, port)
}
