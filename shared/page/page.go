// Package page holds cursor pagination shared by every list operation: limit and
// starting_after parsing and the list envelope. Ids are UUIDv7, ordered by creation
// time, so "newest first, strictly older than the cursor" is a stable page even while
// rows are inserted.
package page

import (
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Params are a list request's paging parameters.
type Params struct {
	Limit         int
	StartingAfter *uuid.UUID
}

// Parse reads limit and starting_after from q, recording problems in fields.
func Parse(q url.Values, fields apperr.Fields) Params {
	p := Params{Limit: DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			fields.Add("limit", "must be an integer from 1 to 100")
		} else {
			p.Limit = n
		}
	}
	if s := q.Get("starting_after"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			fields.Add("starting_after", "must be an id from a previous page")
		} else {
			p.StartingAfter = &id
		}
	}
	return p
}

// List is the envelope of every list response.
type List[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

// Of trims rows fetched with limit+1 to a page and says whether more exist.
func Of[T any](rows []T, limit int) List[T] {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if rows == nil {
		rows = []T{}
	}
	return List[T]{Object: "list", Data: rows, HasMore: more}
}
