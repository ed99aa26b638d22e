package issuers

// Queries returns how many database lookups v has made: the tests hold the verifier to
// a bounded number whatever the tokens say.
func (v *Verifier) Queries() int64 { return v.queries.Load() }
