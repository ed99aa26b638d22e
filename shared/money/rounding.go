package money

import (
	"fmt"
	"math/big"
)

// RoundingMode selects how an exact result is rounded to whole minor units.
// The zero value is HalfEven, so a tenant setting that was never filled in
// gets the mode least biased over many invoices.
type RoundingMode int

const (
	// HalfEven rounds to the nearest integer and ties to the even one
	// (banker's rounding): 0.5→0, 1.5→2, 2.5→2, -2.5→-2. Ties go up and down
	// equally often, so sums of many rounded lines do not drift.
	HalfEven RoundingMode = iota
	// HalfUp rounds to the nearest integer and ties away from zero:
	// 2.5→3, -2.5→-3. It is the "commercial" rounding some tax authorities
	// require; it is symmetric so credit notes mirror invoices exactly.
	HalfUp
	// Down truncates toward zero: 2.9→2, -2.9→-2. Also symmetric in sign.
	Down
)

var roundingModeNames = [...]string{
	HalfEven: "half_even",
	HalfUp:   "half_up",
	Down:     "down",
}

// ParseRoundingMode accepts exactly the names String returns ("half_even",
// "half_up", "down"). The empty string is rejected rather than defaulted:
// defaulting is the caller's policy, not a parsing concern.
func ParseRoundingMode(s string) (RoundingMode, error) {
	for m, name := range roundingModeNames {
		if s == name {
			return RoundingMode(m), nil
		}
	}
	return 0, fmt.Errorf("%w: %s", ErrInvalidRoundingMode, clip(s))
}

// String returns the name ParseRoundingMode accepts, or RoundingMode(n) for
// a value outside the defined modes.
func (m RoundingMode) String() string {
	if m.valid() {
		return roundingModeNames[m]
	}
	return fmt.Sprintf("RoundingMode(%d)", int(m))
}

func (m RoundingMode) valid() bool { return m >= 0 && int(m) < len(roundingModeNames) }

var bigOne = big.NewInt(1)

// quoRound returns num/den rounded to an integer with mode. den must be
// positive, which lets the sign of the result follow num alone.
func quoRound(num, den *big.Int, mode RoundingMode) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // q truncated toward zero
	if r.Sign() == 0 || mode == Down {
		return q
	}
	twiceRem := new(big.Int).Abs(r)
	twiceRem.Lsh(twiceRem, 1)
	away := false
	switch twiceRem.Cmp(den) {
	case 1:
		away = true
	case 0:
		// Bit(0) of a negative big.Int reads two's complement, which has
		// the same parity as the magnitude.
		away = mode == HalfUp || q.Bit(0) == 1
	}
	if away {
		if num.Sign() < 0 {
			q.Sub(q, bigOne)
		} else {
			q.Add(q, bigOne)
		}
	}
	return q
}
