package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/page"
)

// decodeCodes are the codes DecodeJSON answers with; a refusal with any other code is a
// change of the API's error contract and must be made here on purpose.
var decodeCodes = []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field"}

// fuzzRequest has a member of every shape request bodies use.
type fuzzRequest struct {
	Name     string            `json:"name"`
	Count    int64             `json:"count"`
	Small    int               `json:"small"`
	Ratio    float64           `json:"ratio"`
	Flag     bool              `json:"flag"`
	Optional *string           `json:"optional"`
	ID       uuid.UUID         `json:"id"`
	Date     civil.Date        `json:"date"`
	When     *civil.Date       `json:"when"`
	Tags     []string          `json:"tags"`
	Labels   map[string]string `json:"labels"`
	Lines    []struct {
		Quantity string `json:"quantity"`
		Amount   *int64 `json:"amount"`
	} `json:"lines"`
	Raw json.RawMessage `json:"raw"`
}

// FuzzDecodeJSON decodes arbitrary bytes: never a panic; either a value, or a 400 with
// one of the decoder's codes.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Acme","count":3,"tags":["a"],"lines":[{"quantity":"1.5","amount":100}]}`,
		`{"id":"0190f5d4-9c1e-7a3b-8000-000000000001","date":"2026-11-01","when":null}`,
		`{"labels":{"k":"v"},"raw":{"nested":[1,2,{"x":null}]}}`,
		`{"unknown":1}`, `{"count":"3"}`, `{"count":1e400}`, `{"small":9223372036854775808}`,
		`{"date":"2026-02-30"}`, `{"id":"not-an-id"}`, `{"name":"a"} {"name":"b"}`, `{"name":"a"}garbage`,
		`[]`, `"string"`, `null`, ``, `   `, `{`, `{"name":`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}",
		`{"tags":[` + string(bytes.Repeat([]byte(`"x",`), 100)) + `"y"]}`,
		string(bytes.Repeat([]byte("["), 10000)),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v fuzzRequest
		err := DecodeJSON(b, &v)
		if err == nil {
			// What decoded is a JSON object: encoding/json agrees it is valid.
			if !json.Valid(b) {
				t.Fatalf("accepted invalid JSON %q", b)
			}
			return
		}
		requireRefusal(t, err, apperr.Invalid, decodeCodes, b)
	})
}

func requireRefusal(t *testing.T, err error, kind apperr.Kind, codes []string, input any) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%q: %T %v is not an apperr.Error", input, err, err)
	}
	if ae.Kind != kind || !slices.Contains(codes, ae.Code) {
		t.Fatalf("%q: kind %v code %q, want kind %v and one of %v: %v", input, ae.Kind, ae.Code, kind, codes, err)
	}
	if status := apperr.Status(ae.Kind); status < 400 || status > 499 {
		t.Fatalf("%q: status %d", input, status)
	}
}

// FuzzReadBody reads arbitrary bodies and content types: never more than the limit,
// and a refusal is a 413 or 415 with its code.
func FuzzReadBody(f *testing.F) {
	f.Add("application/json", []byte(`{"a":1}`), int64(7))
	f.Add("application/merge-patch+json; charset=utf-8", []byte(`{}`), int64(-1))
	f.Add("text/plain", []byte(`{}`), int64(2))
	f.Add("application/json;;", []byte(`x`), int64(0))
	f.Add("", bytes.Repeat([]byte("x"), 100), int64(10))
	f.Fuzz(func(t *testing.T, contentType string, body []byte, declared int64) {
		const limit = 64
		r := httptest.NewRequest(http.MethodPost, "/v1/x", bytes.NewReader(body))
		r.ContentLength = declared
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		got, err := ReadBody(r, limit)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("%T %v", err, err)
			}
			switch {
			case ae.Kind == apperr.TooLarge && ae.Code == "body_too_large":
			case ae.Kind == apperr.UnsupportedMediaType && ae.Code == "unsupported_media_type":
			default:
				t.Fatalf("kind %v code %q: %v", ae.Kind, ae.Code, err)
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("read %d bytes over a limit of %d", len(got), limit)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("read %q of %q", got, body)
		}
	})
}

// FuzzListQuery parses arbitrary list query strings: never a panic; a page is always
// within bounds; a refusal is a 400 naming parameters.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{
		"limit=20&starting_after=0190f5d4-9c1e-7a3b-8000-000000000001", "limit=101", "limit=0", "limit=-1",
		"limit=1e2", "limit=99999999999999999999", "starting_after=x", "due_before=2026-13-01&overdue=maybe",
		"currency=usd&counterparty_id=%00", "limit=5&limit=500", "%zz", "a=b;c=d",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
		r.URL.RawQuery = raw
		q := NewQuery(r)
		p := q.Page()
		q.UUID("counterparty_id")
		q.Date("due_before")
		q.Bool("overdue")
		q.Currency("currency")
		err := q.Err()
		if err != nil {
			requireRefusal(t, err, apperr.Invalid, []string{"invalid_parameter"}, raw)
			return
		}
		if p.Limit < 1 || p.Limit > page.MaxLimit {
			t.Fatalf("%q: limit %d accepted", raw, p.Limit)
		}
		if v, _ := url.ParseQuery(raw); v.Get("limit") == "" && p.Limit != page.DefaultLimit {
			t.Fatalf("%q: limit %d without one asked for", raw, p.Limit)
		}
	})
}

// FuzzIfMatch parses arbitrary If-Match headers: a version (never below 1, which no
// resource has), or a refusal with a code.
func FuzzIfMatch(f *testing.F) {
	for _, seed := range []string{`"3"`, `W/"3"`, `"0"`, `"-1"`, `3`, `"99999999999999999999"`, `*`, `"3", "4"`, ``} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest(http.MethodPatch, "/v1/x", nil)
		if h != "" {
			r.Header.Set("If-Match", h)
		}
		v, err := IfMatch(r)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code == "" || apperr.Status(ae.Kind) < 400 || apperr.Status(ae.Kind) > 499 {
				t.Fatalf("%q: %v", h, err)
			}
			return
		}
		if v < 1 {
			t.Fatalf("%q accepted as version %d", h, v)
		}
	})
}
