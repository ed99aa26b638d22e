package httpx

import (
	"net/http"
	"net/url"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Query reads a list request's query parameters and collects every problem, so one
// 400 names all the bad parameters at once. Absent parameters read as nil.
type Query struct {
	values url.Values
	fields apperr.Fields
}

// NewQuery reads r's query string.
func NewQuery(r *http.Request) *Query {
	return &Query{values: r.URL.Query(), fields: apperr.Fields{}}
}

// Page reads limit and starting_after.
func (q *Query) Page() page.Params { return page.Parse(q.values, q.fields) }

// UUID reads an id parameter.
func (q *Query) UUID(name string) *uuid.UUID {
	s := q.values.Get(name)
	if s == "" {
		return nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		q.fields.Add(name, "must be an id")
	}
	return &id
}

// Date reads a YYYY-MM-DD parameter.
func (q *Query) Date(name string) *civil.Date {
	s := q.values.Get(name)
	if s == "" {
		return nil
	}
	d, err := civil.ParseDate(s)
	if err != nil {
		q.fields.Add(name, "must be a date (YYYY-MM-DD)")
	}
	return &d
}

// Bool reads a true/false parameter.
func (q *Query) Bool(name string) *bool {
	switch s := q.values.Get(name); s {
	case "":
		return nil
	case "true", "false":
		v := s == "true"
		return &v
	default:
		q.fields.Add(name, "must be true or false")
		return nil
	}
}

// Currency reads an ISO 4217 code.
func (q *Query) Currency(name string) *string {
	s := q.values.Get(name)
	if s == "" {
		return nil
	}
	if !money.ValidCurrency(s) {
		q.fields.Add(name, "must be an active ISO 4217 code in upper case")
	}
	return &s
}

// String reads a parameter a caller parses itself ("" when absent); Invalid records
// what was wrong with it.
func (q *Query) String(name string) string { return q.values.Get(name) }

// Invalid records a problem with parameter name, reported by Err with the others.
func (q *Query) Invalid(name, message string) { q.fields.Add(name, message) }

// Err is nil when every parameter was valid, else the 400 naming each bad one.
func (q *Query) Err() error { return q.fields.ParamErr() }

// Enum reads a parameter that must be one of a closed set of values.
func Enum[T ~string](q *Query, name string, valid func(T) bool, message string) *T {
	s := q.values.Get(name)
	if s == "" {
		return nil
	}
	v := T(s)
	if !valid(v) {
		q.fields.Add(name, message)
	}
	return &v
}
