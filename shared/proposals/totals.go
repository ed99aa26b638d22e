package proposals

import (
	"github.com/ledgerline/ledgerline/shared/money"
)

// linesTotal is what a bill's lines add up to, tax included, as the invoices domain
// prices them when rounding tax per line (each line's quantity × unit amount rounded
// half-even, then its tax): nil when a line cannot be priced (a quantity or rate that is
// not a decimal, an amount too large).
func linesTotal(lines []BillLine) *int64 {
	total, ok := sumLines(lines, false)
	if !ok {
		return nil
	}
	return &total
}

// sumLines prices lines, tax rounded per line or, perDocument, once per rate over the
// lines of that rate.
func sumLines(lines []BillLine, perDocument bool) (int64, bool) {
	var total int64
	byRate := map[string]int64{}
	rates := map[string]money.Decimal{}
	for _, l := range lines {
		qty, err := money.ParseDecimal(l.Quantity)
		if err != nil || qty.Sign() <= 0 || l.UnitAmountMinor < 0 {
			return 0, false
		}
		amount, err := money.LineAmount(qty, l.UnitAmountMinor, money.HalfEven)
		if err != nil {
			return 0, false
		}
		if total, err = money.Add(total, amount); err != nil {
			return 0, false
		}
		if l.TaxRate == nil {
			continue
		}
		rate, err := money.ParseDecimal(*l.TaxRate)
		if err != nil || rate.Sign() < 0 {
			return 0, false
		}
		if perDocument {
			key := rate.String()
			rates[key] = rate
			if byRate[key], err = money.Add(byRate[key], amount); err != nil {
				return 0, false
			}
			continue
		}
		tax, err := money.Tax(amount, rate, money.HalfEven)
		if err != nil {
			return 0, false
		}
		if total, err = money.Add(total, tax); err != nil {
			return 0, false
		}
	}
	for key, base := range byRate {
		tax, err := money.Tax(base, rates[key], money.HalfEven)
		if err != nil {
			return 0, false
		}
		if total, err = money.Add(total, tax); err != nil {
			return 0, false
		}
	}
	return total, true
}

// totalsMatch reports whether the lines add up to total under either way the tenant
// may round tax: the document's total was computed by the vendor, whose rounding is
// unknown, and a one-cent difference from rounding is not a mismatch a person needs
// to look at.
func totalsMatch(lines []BillLine, total int64) bool {
	for _, perDocument := range []bool{false, true} {
		if sum, ok := sumLines(lines, perDocument); ok && sum == total {
			return true
		}
	}
	return false
}
