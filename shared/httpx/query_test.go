package httpx

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func TestQueryCollectsEveryProblem(t *testing.T) {
	r := httptest.NewRequest("GET", "/?limit=7&id=0193a000-0000-7000-8000-000000000001&day=2026-11-01&flag=true&cur=EUR&kind=b", nil)
	q := NewQuery(r)
	require.Equal(t, 7, q.Page().Limit)
	require.Equal(t, "0193a000-0000-7000-8000-000000000001", q.UUID("id").String())
	require.Equal(t, "2026-11-01", q.Date("day").String())
	require.True(t, *q.Bool("flag"))
	require.Equal(t, "EUR", *q.Currency("cur"))
	require.Equal(t, "b", *Enum(q, "kind", func(s string) bool { return s == "a" || s == "b" }, "must be a or b"))
	require.Nil(t, q.UUID("absent"))
	require.Nil(t, q.Date("absent"))
	require.Nil(t, q.Bool("absent"))
	require.Nil(t, q.Currency("absent"))
	require.NoError(t, q.Err())

	bad := NewQuery(httptest.NewRequest("GET", "/?limit=0&id=x&day=2026-13-01&flag=yes&cur=usd&kind=c", nil))
	bad.Page()
	bad.UUID("id")
	bad.Date("day")
	bad.Bool("flag")
	bad.Currency("cur")
	Enum(bad, "kind", func(s string) bool { return s == "a" }, "must be a")
	e := apperr.From(bad.Err())
	require.Equal(t, "invalid_parameter", e.Code)
	require.Len(t, e.Fields, 6)
	require.Equal(t, "must be a", e.Fields["kind"])
}
