package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatusTable(t *testing.T) {
	cases := map[Kind]int{
		Internal: 500, Invalid: 400, Unprocessable: 422, Unauthenticated: 401, Forbidden: 403,
		NotFound: 404, MethodNotAllowed: 405, Conflict: 409, PreconditionFailed: 412, TooLarge: 413,
		UnsupportedMediaType: 415, PreconditionRequired: 428, RateLimited: 429, Unavailable: 503, PaymentRequired: 402,
		BadGateway: 502, Kind(999): 500,
	}
	for k, want := range cases {
		require.Equal(t, want, Status(k), "kind %d", k)
	}
}

func TestFromKeepsClassifiedErrors(t *testing.T) {
	base := NotFoundf("invoice")
	wrapped := fmt.Errorf("loading: %w", base)
	require.Same(t, base, From(wrapped))
	require.Equal(t, "invoice_not_found", From(wrapped).Code)
	require.Equal(t, http.StatusNotFound, Status(KindOf(wrapped)))

	plain := errors.New("boom")
	got := From(plain)
	require.Equal(t, Internal, got.Kind)
	require.Equal(t, "internal error", got.Message, "internal text never becomes the message")
	require.ErrorIs(t, got, plain)
}

func TestFieldsFirstMessageWins(t *testing.T) {
	f := Fields{}
	require.NoError(t, f.Err())
	f.Add("currency", "is required")
	f.Add("currency", "must be upper case")
	err := From(f.Err())
	require.Equal(t, Unprocessable, err.Kind)
	require.Equal(t, "validation_failed", err.Code)
	require.Equal(t, "is required", err.Fields["currency"])
	require.Contains(t, err.Error(), "currency: is required")
}

func TestWrapKeepsCause(t *testing.T) {
	cause := errors.New("connection reset")
	err := Wrap(cause, Unavailable, "database_unavailable", "try again")
	require.ErrorIs(t, err, cause)
	require.Contains(t, err.Error(), "connection reset")
}

func TestVersionConflict(t *testing.T) {
	e := VersionConflict(4)
	require.Equal(t, PreconditionFailed, e.Kind)
	require.Equal(t, http.StatusPreconditionFailed, Status(e.Kind))
	require.Equal(t, "version_conflict", e.Code)
	require.Contains(t, e.Message, "current version 4")
}
