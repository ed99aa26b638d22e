package money

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// helperT is satisfied by both *testing.T and *rapid.T.
type helperT interface {
	require.TestingT
	Helper()
}

// dec parses a decimal known to be valid; tests use it for readability.
func dec(t helperT, s string) Decimal {
	t.Helper()
	d, err := ParseDecimal(s)
	require.NoError(t, err, s)
	return d
}

func TestParseDecimalAccepts(t *testing.T) {
	tests := []struct {
		in        string
		canonical string
		scale     int
		sign      int
	}{
		{"3", "3", 0, 1},
		{"2.5", "2.5", 1, 1},
		{"0.125", "0.125", 3, 1},
		{"-1.5", "-1.5", 1, -1},
		{"0", "0", 0, 0},
		{"-0", "0", 0, 0},
		{"0.000", "0", 0, 0},
		{"-0.0", "0", 0, 0},
		{"2.50", "2.5", 1, 1},
		{"10", "10", 0, 1},
		{"100.000", "100", 0, 1},
		{"0.01", "0.01", 2, 1},
		{"-0.000000000001", "-0.000000000001", 12, -1},
		{"999999999999999999", "999999999999999999", 0, 1},
		{"999999999999999999.999999999999", "999999999999999999.999999999999", 12, 1},
		{"-999999999999999999.999999999999", "-999999999999999999.999999999999", 12, -1},
		{"8.875", "8.875", 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDecimal(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.canonical, d.String())
			require.Equal(t, tt.scale, d.Scale())
			require.Equal(t, tt.sign, d.Sign())
			require.Equal(t, tt.sign == 0, d.IsZero())

			again, err := ParseDecimal(d.String())
			require.NoError(t, err)
			require.Zero(t, again.Cmp(d))
			require.Equal(t, d.String(), again.String())
		})
	}
}

func TestParseDecimalRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		also error // a second sentinel the error must match, if any
	}{
		{"empty", "", nil},
		{"space", " ", nil},
		{"leading space", " 1", nil},
		{"trailing space", "1 ", nil},
		{"inner space", "1 000", nil},
		{"leading plus", "+2", nil},
		{"lone minus", "-", nil},
		{"double minus", "--1", nil},
		{"exponent", "1e3", nil},
		{"upper exponent", "1E3", nil},
		{"NaN", "NaN", nil},
		{"Inf", "Inf", nil},
		{"signed Inf", "-Inf", nil},
		{"two dots", "1.2.3", nil},
		{"leading dot", ".5", nil},
		{"negative leading dot", "-.5", nil},
		{"trailing dot", "5.", nil},
		{"lone dot", ".", nil},
		{"leading zero", "01", nil},
		{"leading zeros with fraction", "00.5", nil},
		{"negative leading zero", "-01", nil},
		{"comma", "1,5", nil},
		{"hex", "0x10", nil},
		{"underscore", "1_000", nil},
		{"non-ASCII digit", "١", nil},
		{"fullwidth digit", "１", nil},
		{"trailing letter", "1a", nil},
		{"19 integer digits", "1000000000000000000", ErrOverflow},
		{"13 fractional digits", "0.0000000000001", ErrTooPrecise},
		{"13 fractional digits trailing zeros", "1.0000000000000", ErrTooPrecise},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDecimal(tt.in)
			require.ErrorIs(t, err, ErrInvalidDecimal)
			if tt.also != nil {
				require.ErrorIs(t, err, tt.also)
			}
			require.True(t, d.IsZero(), "failed parse must return the zero value")
		})
	}
}

func TestParseDecimalErrorSaysWhichLimit(t *testing.T) {
	_, err := ParseDecimal("1000000000000000000")
	require.ErrorContains(t, err, "19 integer digits, more than 18")
	require.NotErrorIs(t, err, ErrTooPrecise)

	_, err = ParseDecimal("0.1234567890123")
	require.ErrorContains(t, err, "13 fractional digits, more than 12")
	require.NotErrorIs(t, err, ErrOverflow)
}

func TestParseDecimalErrorClipsLongInput(t *testing.T) {
	long := "1x" + string(make([]byte, 10000))
	_, err := ParseDecimal(long)
	require.ErrorIs(t, err, ErrInvalidDecimal)
	require.Less(t, len(err.Error()), 300)
}

func TestDecimalZeroValue(t *testing.T) {
	var z Decimal
	require.Equal(t, "0", z.String())
	require.Zero(t, z.Sign())
	require.True(t, z.IsZero())
	require.Zero(t, z.Scale())
	require.Zero(t, z.Cmp(dec(t, "0.00")))
	require.Zero(t, z.Rat().Sign())
}

func TestDecimalCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1.0", 0},
		{"2.5", "2.50", 0},
		{"2.5", "2.49", 1},
		{"2.49", "2.5", -1},
		{"-1", "0.5", -1},
		{"0.5", "-1", 1},
		{"-1.25", "-1.2", -1},
		{"0", "-0", 0},
		{"100", "99.999999999999", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			require.Equal(t, tt.want, dec(t, tt.a).Cmp(dec(t, tt.b)))
			require.Equal(t, -tt.want, dec(t, tt.b).Cmp(dec(t, tt.a)))
		})
	}
}

func TestDecimalRat(t *testing.T) {
	d := dec(t, "-0.125")
	r := d.Rat()
	require.Zero(t, r.Cmp(big.NewRat(-1, 8)))
	r.SetInt64(7)
	require.Equal(t, "-0.125", d.String(), "mutating Rat must not change the Decimal")
}

func TestDecimalJSON(t *testing.T) {
	type line struct {
		Quantity Decimal `json:"quantity"`
	}
	var l line
	require.NoError(t, json.Unmarshal([]byte(`{"quantity":"2.50"}`), &l))
	require.Equal(t, "2.5", l.Quantity.String())

	out, err := json.Marshal(l)
	require.NoError(t, err)
	require.JSONEq(t, `{"quantity":"2.5"}`, string(out))

	err = json.Unmarshal([]byte(`{"quantity":"1e3"}`), &l)
	require.ErrorIs(t, err, ErrInvalidDecimal)
	require.Equal(t, "2.5", l.Quantity.String(), "failed decode must leave the value unchanged")

	// A JSON number is not a text value, so it cannot sneak in as a float.
	require.Error(t, json.Unmarshal([]byte(`{"quantity":2.5}`), &l))
}
