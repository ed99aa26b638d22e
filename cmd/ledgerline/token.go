package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/tenants"
)

// runToken prints a development token. When a dev server is running (its state file
// exists) the tenant is created there if missing, so the token is usable at once.
func runToken(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (uuid); a new one when empty")
	roles := fs.String("roles", "admin", "comma-separated roles: "+rolesList())
	subject := fs.String("subject", "dev-user", "the token's subject")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	_ = fs.Parse(args)

	id := uuid.Must(uuid.NewV7())
	if *tenant != "" {
		var err error
		if id, err = uuid.Parse(*tenant); err != nil {
			return fmt.Errorf("--tenant: %w", err)
		}
	}
	var rs []auth.Role
	for _, s := range strings.Split(*roles, ",") {
		r, err := auth.ParseRole(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("--roles: %w", err)
		}
		rs = append(rs, r)
	}
	iss, err := auth.LoadOrCreateDevIssuer(devKeyFile(), auth.DevIssuerName, devAudience)
	if err != nil {
		return err
	}
	if st, err := readDevState(); err == nil {
		pool, err := pgxpool.New(ctx, st.AdminURL)
		if err == nil {
			err = tenants.Ensure(ctx, pool, tenants.Tenant{ID: id, Name: "Tenant " + id.String()[:8]})
			pool.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "warning: could not create the tenant on the dev server: %v\n", err)
		}
	}
	tok, err := iss.Issue(id, *subject, rs, *ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

func rolesList() string {
	var names []string
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ",")
}
