package money

import (
	"fmt"
	"math/big"
)

// LineAmount returns quantity × unitAmountMinor rounded once, with mode, to
// whole minor units. The product is exact before rounding, so "0.333" × 100
// is 33.3 and becomes 33 rather than accumulating float error.
//
// It fails with ErrOverflow if the rounded result does not fit in int64, and
// with ErrInvalidRoundingMode for an undefined mode.
func LineAmount(quantity Decimal, unitAmountMinor int64, mode RoundingMode) (int64, error) {
	if !mode.valid() {
		return 0, fmt.Errorf("%w: %d", ErrInvalidRoundingMode, int(mode))
	}
	num := new(big.Int).Mul(quantity.int(), big.NewInt(unitAmountMinor))
	v := quoRound(num, pow10(quantity.scale), mode)
	if !v.IsInt64() {
		return 0, fmt.Errorf("%w: line amount %s × %d", ErrOverflow, quantity, unitAmountMinor)
	}
	return v.Int64(), nil
}

// LineAmountPrice returns quantity × unitPrice × 10^exponent rounded once,
// with mode, to whole minor units: the amount of a line priced per unit in
// major units ("0.0125" USD) of a currency with exponent minor-unit digits
// (see Exponent). Rounding the exact product once, rather than first
// converting the price to minor units, keeps sub-minor-unit prices exact:
// 3 × 0.0125 USD is 3.75 cents and becomes 4, where a price rounded to 1
// cent first would give 3.
//
// It fails with ErrOverflow if the rounded result does not fit in int64, and
// with ErrInvalidRoundingMode for an undefined mode. A negative exponent is
// refused: no currency has one, so it can only be a caller's mistake.
func LineAmountPrice(quantity, unitPrice Decimal, exponent int, mode RoundingMode) (int64, error) {
	if !mode.valid() {
		return 0, fmt.Errorf("%w: %d", ErrInvalidRoundingMode, int(mode))
	}
	if exponent < 0 {
		return 0, fmt.Errorf("money: negative currency exponent %d", exponent)
	}
	num := new(big.Int).Mul(quantity.int(), unitPrice.int())
	num.Mul(num, pow10(exponent))
	v := quoRound(num, pow10(quantity.scale+unitPrice.scale), mode)
	if !v.IsInt64() {
		return 0, fmt.Errorf("%w: line amount %s × %s", ErrOverflow, quantity, unitPrice)
	}
	return v.Int64(), nil
}

// Tax returns baseMinor × ratePercent / 100 rounded once, with mode, to
// whole minor units. The rate is a percentage because that is how tax
// tables publish it ("20" is 20%, "8.875" is 8.875%); taking it verbatim
// avoids a conversion step where a factor of 100 could be lost.
//
// Negative bases (credit notes) and negative rates are computed exactly like
// positive ones; whether a negative rate is allowed is the caller's rule.
// It fails with ErrOverflow if the result does not fit in int64, and with
// ErrInvalidRoundingMode for an undefined mode.
func Tax(baseMinor int64, ratePercent Decimal, mode RoundingMode) (int64, error) {
	if !mode.valid() {
		return 0, fmt.Errorf("%w: %d", ErrInvalidRoundingMode, int(mode))
	}
	num := new(big.Int).Mul(big.NewInt(baseMinor), ratePercent.int())
	v := quoRound(num, pow10(ratePercent.scale+2), mode)
	if !v.IsInt64() {
		return 0, fmt.Errorf("%w: tax %s%% of %d", ErrOverflow, ratePercent, baseMinor)
	}
	return v.Int64(), nil
}

// Add returns a + b, or ErrOverflow instead of wrapping around, because a
// wrapped total would be a plausible-looking wrong amount.
func Add(a, b int64) (int64, error) {
	c := a + b
	// Overflow happened exactly when both operands share a sign that the
	// wrapped sum does not have.
	if (a >= 0) == (b >= 0) && (c >= 0) != (a >= 0) {
		return 0, fmt.Errorf("%w: %d + %d", ErrOverflow, a, b)
	}
	return c, nil
}

// Sum returns the exact total of xs, or ErrOverflow if that total does not
// fit in int64. Intermediate sums may exceed int64: the result does not
// depend on term order, so an invoice does not fail or succeed depending on
// whether a credit line is listed before or after a large charge.
// Sum of no terms is 0.
func Sum(xs ...int64) (int64, error) {
	var total int64
	for i, x := range xs {
		t, err := Add(total, x)
		if err != nil {
			return sumBig(total, xs[i:], len(xs))
		}
		total = t
	}
	return total, nil
}

// sumBig finishes a Sum in big.Int once a partial sum has left int64; it is
// off the common path so ordinary totals allocate nothing.
func sumBig(partial int64, rest []int64, n int) (int64, error) {
	acc := big.NewInt(partial)
	var term big.Int
	for _, x := range rest {
		acc.Add(acc, term.SetInt64(x))
	}
	if !acc.IsInt64() {
		return 0, fmt.Errorf("%w: sum of %d terms is %s", ErrOverflow, n, acc)
	}
	return acc.Int64(), nil
}
