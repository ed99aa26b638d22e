package money

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundingModeZeroValueIsHalfEven(t *testing.T) {
	var m RoundingMode
	require.Equal(t, HalfEven, m)
}

func TestParseRoundingMode(t *testing.T) {
	tests := []struct {
		in   string
		want RoundingMode
	}{
		{"half_even", HalfEven},
		{"half_up", HalfUp},
		{"down", Down},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRoundingMode(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.in, got.String())
		})
	}
	for _, bad := range []string{"", "HALF_EVEN", "half-even", "up", "ceiling", " down"} {
		t.Run("reject "+bad, func(t *testing.T) {
			_, err := ParseRoundingMode(bad)
			require.ErrorIs(t, err, ErrInvalidRoundingMode)
		})
	}
}

func TestRoundingModeStringUnknown(t *testing.T) {
	require.Equal(t, "RoundingMode(7)", RoundingMode(7).String())
	require.Equal(t, "RoundingMode(-1)", RoundingMode(-1).String())
}

// Rounding is exercised through LineAmount with a unit amount of 1, which
// rounds the quantity itself.
func TestRoundingEdges(t *testing.T) {
	tests := []struct {
		q    string
		mode RoundingMode
		want int64
	}{
		{"0.5", HalfEven, 0},
		{"1.5", HalfEven, 2},
		{"2.5", HalfEven, 2},
		{"3.5", HalfEven, 4},
		{"-0.5", HalfEven, 0},
		{"-1.5", HalfEven, -2},
		{"-2.5", HalfEven, -2},
		{"2.4", HalfEven, 2},
		{"2.6", HalfEven, 3},
		{"-2.6", HalfEven, -3},
		{"2.500000000001", HalfEven, 3},

		{"0.5", HalfUp, 1},
		{"2.5", HalfUp, 3},
		{"-2.5", HalfUp, -3},
		{"-0.5", HalfUp, -1},
		{"2.4", HalfUp, 2},
		{"-2.4", HalfUp, -2},
		{"2.499999999999", HalfUp, 2},

		{"2.9", Down, 2},
		{"-2.9", Down, -2},
		{"0.999999999999", Down, 0},
		{"-0.5", Down, 0},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+" "+tt.q, func(t *testing.T) {
			got, err := LineAmount(dec(t, tt.q), 1, tt.mode)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRoundingExactValuesUnchanged(t *testing.T) {
	tests := []struct {
		q    string
		want int64
	}{
		{"0", 0}, {"1", 1}, {"-1", -1}, {"2", 2}, {"-3", -3}, {"42.000", 42},
		{"999999999999999999", 999999999999999999},
		{"-999999999999999999", -999999999999999999},
	}
	for _, mode := range []RoundingMode{HalfEven, HalfUp, Down} {
		for _, tt := range tests {
			t.Run(mode.String()+" "+tt.q, func(t *testing.T) {
				got, err := LineAmount(dec(t, tt.q), 1, mode)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
	}
}
