package dbsetup

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestUserOf(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"postgres://alice@localhost/db":        "alice",
		"postgres://bob:secret@localhost:5/db": "bob",
		"postgres://localhost/db":              "postgres",
		"postgres://:pw@localhost/db":          "postgres",
		"://not a url":                         "postgres",
	} {
		require.Equal(t, want, userOf(dsn), dsn)
	}
}

func TestIsDuplicate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "42710"}, true}, // duplicate_object
		{fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505"}), true},
		{&pgconn.PgError{Code: "42501"}, false},
		{errors.New("42710"), false},
		{nil, false},
	} {
		require.Equal(t, c.want, isDuplicate(c.err), "%v", c.err)
	}
}
