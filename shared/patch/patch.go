// Package patch holds the field type of JSON merge-patch requests (RFC 7396): it tells
// a field that was left out (keep the current value) from one sent as null (clear it)
// and from one sent with a value (set it).
package patch

import (
	"bytes"
	"encoding/json"
)

// Field is one member of a merge-patch body.
type Field[T any] struct {
	Set   bool // the member was present
	Null  bool // the member was present and null
	Value T    // the value, when present and not null
}

// UnmarshalJSON is only called for members that are present.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

// Apply returns the patched value of a nullable field.
func (f Field[T]) Apply(current *T) *T {
	switch {
	case !f.Set:
		return current
	case f.Null:
		return nil
	default:
		v := f.Value
		return &v
	}
}

// Or returns the patched value of a required field (null is refused by validation
// before this is called).
func (f Field[T]) Or(current T) T {
	if f.Set && !f.Null {
		return f.Value
	}
	return current
}
