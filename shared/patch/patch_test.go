package patch

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFieldDistinguishesAbsentNullAndValue(t *testing.T) {
	var body struct {
		Memo  Field[string] `json:"memo"`
		Terms Field[int]    `json:"terms"`
		Name  Field[string] `json:"name"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"memo": null, "terms": 14}`), &body))
	require.True(t, body.Memo.Set)
	require.True(t, body.Memo.Null)
	require.True(t, body.Terms.Set)
	require.False(t, body.Terms.Null)
	require.Equal(t, 14, body.Terms.Value)
	require.False(t, body.Name.Set)

	cur := "old"
	require.Nil(t, body.Memo.Apply(&cur))
	require.Equal(t, &cur, body.Name.Apply(&cur))
	require.Equal(t, 14, body.Terms.Or(30))
	require.Equal(t, "kept", body.Name.Or("kept"))
	require.Equal(t, 14, *body.Terms.Apply(nil))

	require.Error(t, json.Unmarshal([]byte(`{"terms": "x"}`), &body))
}
