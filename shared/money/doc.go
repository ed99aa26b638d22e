// Package money holds the monetary primitives shared by every service: the
// ISO 4217 currency table (which codes are accepted and how many minor-unit
// digits each has), exact decimal parsing for quantities and tax rates,
// rounding of line and tax amounts to integer minor units, overflow-checked
// addition, and conversion between minor units and major-unit strings.
//
// Amounts are always int64 minor units paired with a currency code; floats
// never appear, because binary floating point cannot represent most decimal
// fractions and would make invoice totals depend on evaluation order.
// Intermediate products are computed exactly with math/big and rounded once,
// so a result depends only on its inputs and the chosen RoundingMode.
//
// The package does no I/O and keeps no mutable state, so it is safe for
// concurrent use and can be called from any layer, including validation.
package money

import "errors"

// Sentinel errors. Functions wrap them with detail, so test with errors.Is.
var (
	// ErrOverflow reports a result that does not fit in int64 minor units, or
	// a decimal whose integer part is longer than this package accepts.
	ErrOverflow = errors.New("money: overflow")
	// ErrInvalidDecimal reports a string that is not a decimal in the accepted
	// grammar (see ParseDecimal), including one that exceeds the digit limits.
	ErrInvalidDecimal = errors.New("money: invalid decimal")
	// ErrUnknownCurrency reports a code that is not an upper-case ISO 4217
	// currency with a minor unit.
	ErrUnknownCurrency = errors.New("money: unknown currency")
	// ErrTooPrecise reports more fractional digits than allowed; the package
	// refuses rather than rounding silently.
	ErrTooPrecise = errors.New("money: too precise")
	// ErrInvalidRoundingMode reports an unknown rounding mode name or value.
	ErrInvalidRoundingMode = errors.New("money: invalid rounding mode")
)
