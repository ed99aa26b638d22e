package money

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// decimalGen draws strings in ParseDecimal's grammar, up to the digit limits.
var decimalGen = rapid.Custom(func(t *rapid.T) string {
	var b strings.Builder
	if rapid.Bool().Draw(t, "neg") {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(rapid.Uint64Range(0, 999_999_999_999_999_999).Draw(t, "int"), 10))
	if frac := rapid.StringMatching(`[0-9]{0,12}`).Draw(t, "frac"); frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
})

// int64Gen mixes rapid's small-biased int64s with values at the int64 edges,
// where overflow handling matters.
var int64Gen = rapid.OneOf(
	rapid.Int64(),
	rapid.Int64Range(-1_000_000_000, 1_000_000_000),
	rapid.SampledFrom([]int64{
		math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1,
		math.MaxInt64 / 2, math.MinInt64 / 2, 0, 1, -1,
	}),
)

var (
	ratMaxInt64 = new(big.Rat).SetInt64(math.MaxInt64)
	ratMinInt64 = new(big.Rat).SetInt64(math.MinInt64)
)

func TestPropertyDecimalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := decimalGen.Draw(t, "s")
		d, err := ParseDecimal(s)
		require.NoError(t, err)

		want, ok := new(big.Rat).SetString(s)
		require.True(t, ok)
		require.Zero(t, d.Rat().Cmp(want), "value of %s", s)

		again, err := ParseDecimal(d.String())
		require.NoError(t, err)
		require.Zero(t, again.Cmp(d))
		require.Equal(t, d.String(), again.String())
		require.LessOrEqual(t, d.Scale(), MaxFractionalDigits)
	})
}

func TestPropertyDecimalCmpMatchesRat(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := dec(t, decimalGen.Draw(t, "a"))
		b := dec(t, decimalGen.Draw(t, "b"))
		require.Equal(t, a.Rat().Cmp(b.Rat()), a.Cmp(b))
	})
}

// Property 1: every int64 in every currency survives FormatMinor → ParseMajor.
func TestPropertyFormatParseRoundTrip(t *testing.T) {
	codes := Currencies()
	rapid.Check(t, func(t *rapid.T) {
		code := rapid.SampledFrom(codes).Draw(t, "code")
		amount := int64Gen.Draw(t, "amount")

		s, err := FormatMinor(amount, code)
		require.NoError(t, err)
		back, err := ParseMajor(s, code)
		require.NoError(t, err)
		require.Equal(t, amount, back, "%d %s formatted as %q", amount, code, s)
	})
}

// Property 2: an integer quantity needs no rounding, so every mode returns
// the exact product whenever it fits and ErrOverflow otherwise.
func TestPropertyLineAmountIntegerQuantityIsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := rapid.Int64Range(-999_999_999_999_999_999, 999_999_999_999_999_999).Draw(t, "q")
		unit := int64Gen.Draw(t, "unit")
		mode := rapid.SampledFrom([]RoundingMode{HalfEven, HalfUp, Down}).Draw(t, "mode")

		got, err := LineAmount(dec(t, strconv.FormatInt(q, 10)), unit, mode)
		exact := new(big.Int).Mul(big.NewInt(q), big.NewInt(unit))
		if !exact.IsInt64() {
			require.ErrorIs(t, err, ErrOverflow)
			return
		}
		require.NoError(t, err)
		require.Equal(t, exact.Int64(), got)
	})
}

// Property 3: the result is within half a minor unit of the exact product
// for the half modes, and within one unit toward zero for Down.
func TestPropertyLineAmountWithinHalfUnit(t *testing.T) {
	half := big.NewRat(1, 2)
	rapid.Check(t, func(t *rapid.T) {
		q := dec(t, decimalGen.Draw(t, "q"))
		unit := int64Gen.Draw(t, "unit")
		mode := rapid.SampledFrom([]RoundingMode{HalfEven, HalfUp, Down}).Draw(t, "mode")

		exact := new(big.Rat).Mul(q.Rat(), new(big.Rat).SetInt64(unit))
		got, err := LineAmount(q, unit, mode)
		if err != nil {
			require.ErrorIs(t, err, ErrOverflow)
			require.True(t, exact.Cmp(ratMaxInt64) > 0 || exact.Cmp(ratMinInt64) < 0,
				"overflow reported for in-range %s", exact.FloatString(12))
			return
		}
		diff := new(big.Rat).Sub(exact, new(big.Rat).SetInt64(got))
		absDiff := new(big.Rat).Abs(diff)
		switch mode {
		case Down:
			require.Negative(t, absDiff.Cmp(big.NewRat(1, 1)))
			require.True(t, diff.Sign() == 0 || diff.Sign() == exact.Sign(), "Down must truncate toward zero")
		default:
			require.LessOrEqual(t, absDiff.Cmp(half), 0, "%s × %d = %s rounded to %d", q, unit, exact.FloatString(12), got)
		}
	})
}

// Property 4: HalfEven sends every exact tie to the even neighbour, whether
// the tie comes from a quantity or from a tax computation.
func TestPropertyHalfEvenTiesAreEven(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int64Range(-999_999_999_999_999, 999_999_999_999_999).Draw(t, "n")
		s := strconv.FormatInt(n, 10) + ".5"
		if n == 0 && rapid.Bool().Draw(t, "negZero") {
			s = "-0.5"
		}
		got, err := LineAmount(dec(t, s), 1, HalfEven)
		require.NoError(t, err)
		require.Zero(t, got%2, "%s rounded to %d", s, got)

		diff := new(big.Rat).Sub(dec(t, s).Rat(), new(big.Rat).SetInt64(got))
		require.Zero(t, new(big.Rat).Abs(diff).Cmp(big.NewRat(1, 2)))

		// 50% of an odd base is always a tie.
		odd := 2*n + 1
		tax, err := Tax(odd, dec(t, "50"), HalfEven)
		require.NoError(t, err)
		require.Zero(t, tax%2, "50%% of %d rounded to %d", odd, tax)
	})
}

// Property 5: Sum returns either the exact total or ErrOverflow, never a
// wrapped value.
func TestPropertySumNeverWraps(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		xs := rapid.SliceOf(int64Gen).Draw(t, "xs")
		exact := new(big.Int)
		for _, x := range xs {
			exact.Add(exact, big.NewInt(x))
		}
		got, err := Sum(xs...)
		if !exact.IsInt64() {
			require.ErrorIs(t, err, ErrOverflow)
			return
		}
		require.NoError(t, err)
		require.Equal(t, exact.Int64(), got)
	})
}

func TestPropertyAddMatchesBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := int64Gen.Draw(t, "a"), int64Gen.Draw(t, "b")
		exact := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
		got, err := Add(a, b)
		if !exact.IsInt64() {
			require.ErrorIs(t, err, ErrOverflow)
			return
		}
		require.NoError(t, err)
		require.Equal(t, exact.Int64(), got)
	})
}

// Tax must agree with an independent big.Rat computation in every mode.
func TestPropertyTaxMatchesRat(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := int64Gen.Draw(t, "base")
		rate := dec(t, decimalGen.Draw(t, "rate"))
		mode := rapid.SampledFrom([]RoundingMode{HalfEven, HalfUp, Down}).Draw(t, "mode")

		exact := new(big.Rat).Mul(new(big.Rat).SetInt64(base), rate.Rat())
		exact.Quo(exact, big.NewRat(100, 1))
		want := roundRat(exact, mode)

		got, err := Tax(base, rate, mode)
		if !want.IsInt64() {
			require.ErrorIs(t, err, ErrOverflow)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want.Int64(), got)
	})
}

// roundRat is a reference rounding built from floor and the definition of
// each mode, independent of quoRound.
func roundRat(x *big.Rat, mode RoundingMode) *big.Int {
	floor := new(big.Int).Div(x.Num(), x.Denom()) // Euclidean: floor for positive denominators
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt(floor))
	ceil := new(big.Int).Add(floor, big.NewInt(1))
	if frac.Sign() == 0 {
		return floor
	}
	switch mode {
	case Down:
		if x.Sign() < 0 {
			return ceil
		}
		return floor
	case HalfUp:
		switch frac.Cmp(big.NewRat(1, 2)) {
		case -1:
			return floor
		case 1:
			return ceil
		}
		if x.Sign() < 0 {
			return floor
		}
		return ceil
	default:
		switch frac.Cmp(big.NewRat(1, 2)) {
		case -1:
			return floor
		case 1:
			return ceil
		}
		if floor.Bit(0) == 0 {
			return floor
		}
		return ceil
	}
}
