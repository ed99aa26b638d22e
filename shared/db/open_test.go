package db_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestOpenURLFailures(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(closedPort(t))
	cases := []struct {
		name, url, contains string
	}{
		{"malformed url", "postgres://user@host:notaport/db", "parse url"},
		{"bad escape", "postgres://%zz@localhost/db", "parse url"},
		{"unknown option", "postgres://user@127.0.0.1:" + port + "/db?sslmode=sometimes", "parse url"},
		{"nothing listening", "postgres://user@127.0.0.1:" + port + "/db?sslmode=disable&connect_timeout=2", "ping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			d, err := db.OpenURL(ctx, c.url, 2)
			require.Error(t, err)
			require.Nil(t, d)
			require.Contains(t, err.Error(), c.contains)
			require.Less(t, time.Since(start), 4*time.Second)
			if c.contains == "ping" {
				requireAppErr(t, db.Map(err), apperr.Unavailable, "database_unavailable")
			}
		})
	}
}

func TestOpenAndOpenURL(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	viaURL, err := db.OpenURL(ctx, d.URLs.App, 3)
	require.NoError(t, err)
	defer viaURL.Close()
	require.EqualValues(t, 3, viaURL.Pool.Config().MaxConns)
	require.Zero(t, viaURL.Pool.Config().MinConns)

	// Without an instance connection name, Open uses the URL.
	viaConfig, err := db.Open(ctx, config.Config{DatabaseURL: d.URLs.App, DBMaxConns: 2})
	require.NoError(t, err)
	defer viaConfig.Close()
	require.EqualValues(t, 2, viaConfig.Pool.Config().MaxConns)
	var user string
	require.NoError(t, viaConfig.Pool.QueryRow(ctx, `SELECT current_user`).Scan(&user))
	require.Equal(t, "ledgerline_app", user)

	viaConfig.Close()
	require.Error(t, viaConfig.Pool.Ping(ctx), "closed pool refuses work")
}
