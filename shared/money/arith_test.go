package money

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLineAmount(t *testing.T) {
	tests := []struct {
		name string
		q    string
		unit int64
		mode RoundingMode
		want int64
	}{
		{"integer quantity", "3", 15000, HalfEven, 45000},
		{"third of a dollar", "0.333", 100, HalfEven, 33},
		{"tie rounds to even", "2.5", 1, HalfEven, 2},
		{"tie rounds away", "2.5", 1, HalfUp, 3},
		{"fractional unit product", "1.5", 199, HalfEven, 298}, // 298.5 → 298
		{"fractional unit product half up", "1.5", 199, HalfUp, 299},
		{"fractional unit product down", "1.5", 199, Down, 298},
		{"credit line", "-2", 15000, HalfEven, -30000},
		{"negative unit", "0.5", -3, HalfEven, -2}, // -1.5 → -2
		{"zero quantity", "0", math.MaxInt64, HalfEven, 0},
		{"zero unit", "999999999999999999", 0, HalfEven, 0},
		{"max int64", "1", math.MaxInt64, HalfEven, math.MaxInt64},
		{"min int64", "1", math.MinInt64, HalfEven, math.MinInt64},
		{"half of min int64", "0.5", math.MinInt64, HalfEven, math.MinInt64 / 2},
		// 6148914691236517205 × 1.5 = MaxInt64 + 0.5: only truncation fits.
		{"just above max truncated", "1.5", 6148914691236517205, Down, math.MaxInt64},
		// … and its negation is MinInt64 + 0.5, which every mode can reach.
		{"just above min half even", "-1.5", 6148914691236517205, HalfEven, math.MinInt64},
		{"just above min half up", "-1.5", 6148914691236517205, HalfUp, math.MinInt64},
		{"just above min down", "-1.5", 6148914691236517205, Down, -math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LineAmount(dec(t, tt.q), tt.unit, tt.mode)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLineAmountOverflow(t *testing.T) {
	tests := []struct {
		name string
		q    string
		unit int64
	}{
		{"max times two", "2", math.MaxInt64},
		{"min times two", "2", math.MinInt64},
		{"min negated", "-1", math.MinInt64},
		{"just above max", "1.000000000001", math.MaxInt64},
		{"large quantity", "999999999999999999", 10},
		{"tie above max rounds up out of range", "1.5", 6148914691236517205},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LineAmount(dec(t, tt.q), tt.unit, HalfEven)
			require.ErrorIs(t, err, ErrOverflow)
		})
	}
}

func TestTax(t *testing.T) {
	tests := []struct {
		name string
		base int64
		rate string
		mode RoundingMode
		want int64
	}{
		{"20 percent", 45000, "20", HalfEven, 9000},
		{"8.875 percent", 1000, "8.875", HalfEven, 89}, // 88.75
		{"8.875 percent down", 1000, "8.875", Down, 88},
		{"tie to even down", 50, "1", HalfEven, 0},   // 0.5
		{"tie to even up", 150, "1", HalfEven, 2},    // 1.5
		{"tie to even stays", 250, "1", HalfEven, 2}, // 2.5
		{"tie half up", 250, "1", HalfUp, 3},
		{"negative tie half up", -250, "1", HalfUp, -3},
		{"negative tie half even", -250, "1", HalfEven, -2},
		{"credit note", -45000, "20", HalfEven, -9000},
		{"negative rate", 1000, "-8.875", HalfEven, -89},
		{"zero rate", 12345, "0", HalfEven, 0},
		{"hundred percent", math.MaxInt64, "100", HalfEven, math.MaxInt64},
		{"tiny rate", 1, "0.000000000001", HalfUp, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tax(tt.base, dec(t, tt.rate), tt.mode)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTaxOverflow(t *testing.T) {
	_, err := Tax(math.MaxInt64, dec(t, "100.000000000001"), HalfEven)
	require.ErrorIs(t, err, ErrOverflow)
	_, err = Tax(math.MinInt64, dec(t, "-100"), HalfEven)
	require.ErrorIs(t, err, ErrOverflow)
}

func TestInvalidRoundingModeRejected(t *testing.T) {
	for _, m := range []RoundingMode{-1, 3, 99} {
		t.Run(m.String(), func(t *testing.T) {
			_, err := LineAmount(dec(t, "1"), 1, m)
			require.ErrorIs(t, err, ErrInvalidRoundingMode)
			_, err = Tax(100, dec(t, "1"), m)
			require.ErrorIs(t, err, ErrInvalidRoundingMode)
		})
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name    string
		a, b    int64
		want    int64
		overflo bool
	}{
		{"small", 2, 3, 5, false},
		{"mixed signs", -7, 3, -4, false},
		{"to max", math.MaxInt64 - 1, 1, math.MaxInt64, false},
		{"to min", math.MinInt64 + 1, -1, math.MinInt64, false},
		{"max plus min", math.MaxInt64, math.MinInt64, -1, false},
		{"zero and min", 0, math.MinInt64, math.MinInt64, false},
		{"past max", math.MaxInt64, 1, 0, true},
		{"past min", math.MinInt64, -1, 0, true},
		{"max plus max", math.MaxInt64, math.MaxInt64, 0, true},
		{"min plus min", math.MinInt64, math.MinInt64, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Add(tt.a, tt.b)
			if tt.overflo {
				require.ErrorIs(t, err, ErrOverflow)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSum(t *testing.T) {
	tests := []struct {
		name    string
		xs      []int64
		want    int64
		overflo bool
	}{
		{"none", nil, 0, false},
		{"one", []int64{7}, 7, false},
		{"several", []int64{45000, 9000, -500}, 53500, false},
		{"intermediate overflow cancels out", []int64{math.MaxInt64, 1, -2}, math.MaxInt64 - 1, false},
		{"order does not matter", []int64{1, math.MaxInt64, -2}, math.MaxInt64 - 1, false},
		{"deep negative intermediate", []int64{math.MinInt64, math.MinInt64, math.MaxInt64, math.MaxInt64, 2}, 0, false},
		{"overflow", []int64{math.MaxInt64, 1}, 0, true},
		{"underflow", []int64{math.MinInt64, 5, -6}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sum(tt.xs...)
			if tt.overflo {
				require.ErrorIs(t, err, ErrOverflow)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLineAmountPrice(t *testing.T) {
	tests := []struct {
		name  string
		q     string
		price string
		exp   int
		mode  RoundingMode
		want  int64
	}{
		{"whole dollars", "3", "150", 2, HalfEven, 45000},
		{"sub-cent price", "3", "0.0125", 2, HalfEven, 4},   // 3.75 cents
		{"sub-cent price down", "3", "0.0125", 2, Down, 3},  // 3.75 cents
		{"tie to even down", "1", "0.005", 2, HalfEven, 0},  // 0.5 cents
		{"tie to even up", "1", "0.015", 2, HalfEven, 2},    // 1.5 cents
		{"tie half up", "1", "0.005", 2, HalfUp, 1},         // 0.5 cents
		{"fractional both", "0.333", "1", 2, HalfEven, 33},  // 33.3 cents
		{"yen", "1.5", "333.3", 0, HalfEven, 500},           // 499.95 yen
		{"yen tie", "1", "2.5", 0, HalfEven, 2},             // 2.5 yen
		{"dinar", "2", "1.2345", 3, HalfEven, 2469},         // 2469 fils
		{"dinar tie", "1", "0.0005", 3, HalfEven, 0},        // 0.5 fils
		{"clf four digits", "1", "0.00005", 4, HalfEven, 0}, // 0.5 of 0.0001
		{"zero price", "999999999999999999", "0", 2, HalfEven, 0},
		{"max int64 yen", "10", "922337203685477580.7", 0, HalfEven, math.MaxInt64},
		{"max int64 in cents", "1", "92233720368547758.07", 2, HalfEven, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LineAmountPrice(dec(t, tt.q), dec(t, tt.price), tt.exp, tt.mode)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLineAmountPriceAgreesWithLineAmount(t *testing.T) {
	// A price that is a whole number of minor units must give what LineAmount gives
	// for that unit amount.
	for _, q := range []string{"1", "0.333", "2.5", "7.125", "1000000"} {
		for _, unit := range []int64{0, 1, 199, 15000, 123456789} {
			want, err := LineAmount(dec(t, q), unit, HalfEven)
			require.NoError(t, err)
			price, err := FormatMinor(unit, "USD")
			require.NoError(t, err)
			got, err := LineAmountPrice(dec(t, q), dec(t, price), 2, HalfEven)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s × %d", q, unit)
		}
	}
}

func TestLineAmountPriceRefusals(t *testing.T) {
	_, err := LineAmountPrice(dec(t, "999999999999999999"), dec(t, "999999999999999999"), 2, HalfEven)
	require.ErrorIs(t, err, ErrOverflow)
	_, err = LineAmountPrice(dec(t, "1"), dec(t, "92233720368547758.08"), 2, HalfEven)
	require.ErrorIs(t, err, ErrOverflow)
	_, err = LineAmountPrice(dec(t, "1"), dec(t, "1"), 2, RoundingMode(7))
	require.ErrorIs(t, err, ErrInvalidRoundingMode)
	_, err = LineAmountPrice(dec(t, "1"), dec(t, "1"), -1, HalfEven)
	require.Error(t, err)
}
