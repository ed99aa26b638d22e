package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func requireAppErr(t *testing.T, err error, kind apperr.Kind, code string) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "want an *apperr.Error, got %T: %v", err, err)
	require.Equal(t, kind, ae.Kind, "error: %v", err)
	require.Equal(t, code, ae.Code, "error: %v", err)
	return ae
}

// chunked hides the body's length so the request looks chunked (ContentLength -1).
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadBody(t *testing.T) {
	const limit = 16
	cases := []struct {
		name          string
		contentType   string
		body          string
		hideLength    bool
		contentLength int64 // overrides the declared length when non-zero
		wantKind      apperr.Kind
		wantCode      string // "" means success
	}{
		{name: "json", contentType: "application/json", body: `{"a":1}`},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `{"a":1}`},
		{name: "json upper-case", contentType: "Application/JSON", body: `{"a":1}`},
		{name: "merge patch", contentType: "application/merge-patch+json", body: `{"a":1}`},
		{name: "problem json", contentType: "application/problem+json", body: `{}`},
		{name: "no content type", body: `{"a":1}`},
		{name: "empty body", contentType: "application/json", body: ``},
		{name: "exactly the limit", contentType: "application/json", body: strings.Repeat("x", limit)},
		{name: "exactly the limit chunked", contentType: "application/json", body: strings.Repeat("x", limit), hideLength: true},
		{name: "text/plain", contentType: "text/plain", body: `{"a":1}`, wantKind: apperr.UnsupportedMediaType, wantCode: "unsupported_media_type"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `a=1`, wantKind: apperr.UnsupportedMediaType, wantCode: "unsupported_media_type"},
		{name: "json as a suffix without plus", contentType: "application/notjson", body: `{}`, wantKind: apperr.UnsupportedMediaType, wantCode: "unsupported_media_type"},
		{name: "unparsable content type", contentType: "application/json; =", body: `{}`, wantKind: apperr.UnsupportedMediaType, wantCode: "unsupported_media_type"},
		{name: "content length over limit", contentType: "application/json", body: strings.Repeat("x", limit+1), wantKind: apperr.TooLarge, wantCode: "body_too_large"},
		{name: "declared length over limit, short body", contentType: "application/json", body: `{}`, contentLength: limit + 1000, wantKind: apperr.TooLarge, wantCode: "body_too_large"},
		{name: "chunked body over limit", contentType: "application/json", body: strings.Repeat("x", limit+1), hideLength: true, wantKind: apperr.TooLarge, wantCode: "body_too_large"},
		{name: "chunked body far over limit", contentType: "application/json", body: strings.Repeat("x", 10*limit), hideLength: true, wantKind: apperr.TooLarge, wantCode: "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.hideLength {
				body = chunked{body}
			}
			r := httptest.NewRequest(http.MethodPost, "/v1/x", body)
			if tc.hideLength {
				require.Equal(t, int64(-1), r.ContentLength)
			}
			if tc.contentLength != 0 {
				r.ContentLength = tc.contentLength
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			got, err := ReadBody(r, limit)
			if tc.wantCode == "" {
				require.NoError(t, err)
				require.Equal(t, tc.body, string(got))
				return
			}
			requireAppErr(t, err, tc.wantKind, tc.wantCode)
			require.Nil(t, got)
		})
	}
}

func TestReadBodyUnreadable(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/x", chunked{failingReader{}})
	r.Header.Set("Content-Type", "application/json")
	_, err := ReadBody(r, 1024)
	ae := requireAppErr(t, err, apperr.Invalid, "unreadable_body")
	require.ErrorContains(t, ae, "connection reset")
}

func TestReadBodyOverLimitMessage(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/x", strings.NewReader(strings.Repeat("x", 2000)))
	_, err := ReadBody(r, 1024)
	ae := requireAppErr(t, err, apperr.TooLarge, "body_too_large")
	require.Contains(t, ae.Message, "1024")
	require.Equal(t, http.StatusRequestEntityTooLarge, apperr.Status(ae.Kind))
}

type target struct {
	N     int               `json:"n"`
	S     string            `json:"s"`
	F     float64           `json:"f"`
	B     bool              `json:"b"`
	L     []int             `json:"l"`
	M     map[string]string `json:"m"`
	Inner *struct {
		Q int `json:"q"`
	} `json:"inner"`
	Custom *custom `json:"custom"`
}

// custom fails its own decoding with an apperr for "bad", and a plain error for "plain".
type custom struct{}

func (*custom) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"bad"`:
		return apperr.New(apperr.Unprocessable, "invalid_custom", "custom says no")
	case `"plain"`:
		return errors.New("plain failure")
	}
	return nil
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		wantCode string // "" means success
		field    string // the field named in Fields, if any
		fieldMsg string
		message  string // substring of the message
		kind     apperr.Kind
	}{
		{name: "ok", body: `{"n":1,"s":"x","inner":{"q":2}}`},
		{name: "ok with surrounding whitespace", body: " \n{\"n\":1}\n "},
		{name: "ok empty object", body: `{}`},
		{name: "empty", body: ``, wantCode: "empty_body", kind: apperr.Invalid},
		{name: "only whitespace", body: " \n\t ", wantCode: "empty_body", kind: apperr.Invalid},
		{name: "malformed", body: `{"n":}`, wantCode: "malformed_json", message: "at byte 6", kind: apperr.Invalid},
		{name: "malformed first byte", body: `x`, wantCode: "malformed_json", message: "at byte 1", kind: apperr.Invalid},
		{name: "truncated", body: `{"n":1`, wantCode: "malformed_json", message: "unexpected end", kind: apperr.Invalid},
		{name: "trailing object", body: `{}{}`, wantCode: "malformed_json", message: "single JSON object", kind: apperr.Invalid},
		{name: "trailing garbage", body: `{} x`, wantCode: "malformed_json", message: "single JSON object", kind: apperr.Invalid},
		{name: "trailing close brace", body: `{}}`, wantCode: "malformed_json", message: "single JSON object", kind: apperr.Invalid},
		{name: "array instead of object", body: `[1]`, wantCode: "malformed_json", message: "must be a JSON object", kind: apperr.Invalid},
		{name: "string instead of object", body: `"x"`, wantCode: "malformed_json", message: "must be a JSON object", kind: apperr.Invalid},
		{name: "unknown field", body: `{"n":1,"admin":true}`, wantCode: "unknown_field", field: "admin", fieldMsg: "is not a known field", message: `"admin"`, kind: apperr.Invalid},
		{name: "unknown nested field", body: `{"inner":{"q":1,"z":2}}`, wantCode: "unknown_field", field: "z", fieldMsg: "is not a known field", kind: apperr.Invalid},
		{name: "string for int", body: `{"n":"x"}`, wantCode: "invalid_field_type", field: "n", fieldMsg: "must be an integer", message: "field n must be an integer", kind: apperr.Invalid},
		{name: "fraction for int", body: `{"n":1.5}`, wantCode: "invalid_field_type", field: "n", fieldMsg: "must be an integer", kind: apperr.Invalid},
		{name: "number for string", body: `{"s":1}`, wantCode: "invalid_field_type", field: "s", fieldMsg: "must be a string", kind: apperr.Invalid},
		{name: "string for float", body: `{"f":"1"}`, wantCode: "invalid_field_type", field: "f", fieldMsg: "must be a number", kind: apperr.Invalid},
		{name: "string for bool", body: `{"b":"true"}`, wantCode: "invalid_field_type", field: "b", fieldMsg: "must be a boolean", kind: apperr.Invalid},
		{name: "object for list", body: `{"l":{}}`, wantCode: "invalid_field_type", field: "l", fieldMsg: "must be an array", kind: apperr.Invalid},
		{name: "list for map", body: `{"m":[]}`, wantCode: "invalid_field_type", field: "m", fieldMsg: "must be an object", kind: apperr.Invalid},
		{name: "nested wrong type", body: `{"inner":{"q":"x"}}`, wantCode: "invalid_field_type", field: "inner.q", fieldMsg: "must be an integer", kind: apperr.Invalid},
		{name: "custom apperr kept", body: `{"custom":"bad"}`, wantCode: "invalid_custom", message: "custom says no", kind: apperr.Unprocessable},
		{name: "custom plain error", body: `{"custom":"plain"}`, wantCode: "malformed_json", message: "not valid JSON for this operation", kind: apperr.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v target
			err := DecodeJSON([]byte(tc.body), &v)
			if tc.wantCode == "" {
				require.NoError(t, err)
				return
			}
			ae := requireAppErr(t, err, tc.kind, tc.wantCode)
			require.Contains(t, ae.Message, tc.message)
			if tc.field != "" {
				require.Equal(t, map[string]string{tc.field: tc.fieldMsg}, ae.Fields)
			} else {
				require.Empty(t, ae.Fields)
			}
		})
	}
}

func TestDecodeJSONFillsValue(t *testing.T) {
	var v target
	require.NoError(t, DecodeJSON([]byte(`{"n":7,"s":"hi","l":[1,2],"inner":{"q":3}}`), &v))
	require.Equal(t, 7, v.N)
	require.Equal(t, "hi", v.S)
	require.Equal(t, []int{1, 2}, v.L)
	require.NotNil(t, v.Inner)
	require.Equal(t, 3, v.Inner.Q)

	var m map[string]json.RawMessage
	require.NoError(t, DecodeJSON([]byte(`{"anything":1}`), &m), "maps accept any key")
	require.Len(t, m, 1)
}

func TestDecodeJSONIntoStructNamedN(t *testing.T) {
	var v struct {
		N int `json:"n"`
	}
	err := DecodeJSON([]byte(`{"n":"x"}`), &v)
	ae := requireAppErr(t, err, apperr.Invalid, "invalid_field_type")
	require.Equal(t, map[string]string{"n": "must be an integer"}, ae.Fields)
	require.Equal(t, http.StatusBadRequest, apperr.Status(ae.Kind))
}
