package httpx

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func TestIfMatch(t *testing.T) {
	cases := []struct {
		header  string
		version int
		kind    apperr.Kind
	}{
		{`"3"`, 3, 0},
		{`W/"12"`, 12, 0},
		{` "1" `, 1, 0},
		{"", 0, apperr.PreconditionRequired},
		{`3`, 0, apperr.PreconditionFailed},
		{`"0"`, 0, apperr.PreconditionFailed},
		{`"abc"`, 0, apperr.PreconditionFailed},
		{`*`, 0, apperr.PreconditionFailed},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			r := httptest.NewRequest("PATCH", "/", nil)
			if tc.header != "" {
				r.Header.Set("If-Match", tc.header)
			}
			v, err := IfMatch(r)
			if tc.kind != 0 {
				require.Equal(t, tc.kind, apperr.KindOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.version, v)
		})
	}
	w := httptest.NewRecorder()
	SetETag(w, 7)
	require.Equal(t, `"7"`, w.Header().Get("ETag"))
	require.Equal(t, apperr.PreconditionFailed, apperr.KindOf(VersionConflict(4)))
	require.Contains(t, VersionConflict(4).Error(), "current version 4")
}

func TestOptionalIfMatch(t *testing.T) {
	r := httptest.NewRequest("DELETE", "/", nil)
	v, err := OptionalIfMatch(r)
	require.NoError(t, err)
	require.Nil(t, v, "absent means any version")
	r.Header.Set("If-Match", `"4"`)
	v, err = OptionalIfMatch(r)
	require.NoError(t, err)
	require.Equal(t, 4, *v)
	r.Header.Set("If-Match", `nope`)
	_, err = OptionalIfMatch(r)
	require.Equal(t, apperr.PreconditionFailed, apperr.KindOf(err))
}
