package webhooks

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/openapi"
)

func TestEventTypes(t *testing.T) {
	types := EventTypes()
	require.True(t, slices.IsSorted(types), "KnownEventType searches the sorted list")
	require.Len(t, slices.Compact(slices.Clone(types)), len(types))
	for _, typ := range types {
		require.Regexp(t, `^[a-z_]+\.[a-z_]+$`, typ)
		require.True(t, KnownEventType(typ))
	}
	require.False(t, KnownEventType("*"))
	require.False(t, KnownEventType("invoice.exploded"))
	types[0] = "changed"
	require.NotEqual(t, "changed", EventTypes()[0], "callers get a copy")
}

// The contract lists the same event types, so clients see exactly what the server accepts.
func TestContractListsTheEventTypes(t *testing.T) {
	doc, err := openapi.Load()
	require.NoError(t, err)
	ref := doc.Components.Schemas["WebhookEventType"]
	require.NotNil(t, ref)
	var enum []string
	for _, v := range ref.Value.Enum {
		enum = append(enum, v.(string))
	}
	require.Equal(t, append([]string{AllEvents}, EventTypes()...), enum)
}
