package page

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func TestParse(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	const limitMsg = "must be an integer from 1 to 100"
	const cursorMsg = "must be an id from a previous page"
	cases := []struct {
		name       string
		query      string
		wantLimit  int
		wantCursor *uuid.UUID
		wantFields map[string]string
	}{
		{name: "defaults", query: "", wantLimit: DefaultLimit},
		{name: "empty values are defaults", query: "limit=&starting_after=", wantLimit: DefaultLimit},
		{name: "min limit", query: "limit=1", wantLimit: 1},
		{name: "max limit", query: "limit=100", wantLimit: MaxLimit},
		{name: "middle limit", query: "limit=37", wantLimit: 37},
		{name: "cursor", query: "starting_after=" + id.String(), wantLimit: DefaultLimit, wantCursor: &id},
		{name: "both", query: "limit=5&starting_after=" + id.String(), wantLimit: 5, wantCursor: &id},
		{name: "first value wins", query: "limit=5&limit=500", wantLimit: 5},
		{name: "zero", query: "limit=0", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg}},
		{name: "over max", query: "limit=101", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg}},
		{name: "negative", query: "limit=-1", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg}},
		{name: "not a number", query: "limit=x", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg}},
		{name: "fraction", query: "limit=1.5", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg}},
		{name: "huge", query: "limit=99999999999999999999", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg}},
		{name: "bad uuid", query: "starting_after=inv_123", wantLimit: DefaultLimit, wantFields: map[string]string{"starting_after": cursorMsg}},
		{name: "truncated uuid", query: "starting_after=" + id.String()[:35], wantLimit: DefaultLimit, wantFields: map[string]string{"starting_after": cursorMsg}},
		{name: "both bad", query: "limit=0&starting_after=x", wantLimit: DefaultLimit, wantFields: map[string]string{"limit": limitMsg, "starting_after": cursorMsg}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			fields := apperr.Fields{}
			p := Parse(q, fields)
			require.Equal(t, tc.wantLimit, p.Limit)
			require.Equal(t, tc.wantCursor, p.StartingAfter)
			if tc.wantFields == nil {
				require.Empty(t, fields)
				require.NoError(t, fields.Err())
				return
			}
			require.Equal(t, apperr.Fields(tc.wantFields), fields)
			require.Equal(t, apperr.Unprocessable, apperr.KindOf(fields.Err()))
		})
	}
}

func TestParseKeepsEarlierFieldErrors(t *testing.T) {
	fields := apperr.Fields{"limit": "already wrong"}
	Parse(url.Values{"limit": {"0"}}, fields)
	require.Equal(t, "already wrong", fields["limit"], "the first problem with a field is the one reported")
}

func TestOf(t *testing.T) {
	cases := []struct {
		name     string
		rows     []int
		limit    int
		wantData []int
		wantMore bool
		wantJSON string
	}{
		{"nil rows", nil, 2, []int{}, false, `{"object":"list","data":[],"has_more":false}`},
		{"empty rows", []int{}, 2, []int{}, false, `{"object":"list","data":[],"has_more":false}`},
		{"fewer than limit", []int{1}, 2, []int{1}, false, `{"object":"list","data":[1],"has_more":false}`},
		{"exactly limit", []int{1, 2}, 2, []int{1, 2}, false, `{"object":"list","data":[1,2],"has_more":false}`},
		{"limit plus one", []int{1, 2, 3}, 2, []int{1, 2}, true, `{"object":"list","data":[1,2],"has_more":true}`},
		{"limit one with more", []int{9, 8}, 1, []int{9}, true, `{"object":"list","data":[9],"has_more":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := Of(tc.rows, tc.limit)
			require.Equal(t, "list", l.Object)
			require.Equal(t, tc.wantData, l.Data)
			require.NotNil(t, l.Data)
			require.Equal(t, tc.wantMore, l.HasMore)
			b, err := json.Marshal(l)
			require.NoError(t, err)
			require.JSONEq(t, tc.wantJSON, string(b))
			require.Equal(t, tc.wantJSON, string(b), "field order is stable")
		})
	}
}

func TestOfStructRows(t *testing.T) {
	type row struct {
		ID string `json:"id"`
	}
	var none []row
	b, err := json.Marshal(Of(none, DefaultLimit))
	require.NoError(t, err)
	require.Equal(t, `{"object":"list","data":[],"has_more":false}`, string(b), "no rows is [] not null")
}
