package db

import (
	"strconv"
	"strings"
)

// Where builds the WHERE clause of a list query from fixed conditions: each condition
// is written by the store with "?" where its argument goes, and the argument is always
// passed positionally, so no input ever becomes SQL text.
type Where struct {
	conds []string
	args  []any
}

// NewWhere starts a clause with its first condition (the tenant, by convention).
func NewWhere(cond string, arg any) *Where {
	w := &Where{}
	w.Add(cond, arg)
	return w
}

// Add appends cond; every "?" in it stands for arg.
func (w *Where) Add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

// Arg adds an argument that is not part of a condition (a LIMIT) and returns its
// placeholder.
func (w *Where) Arg(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}

// SQL is the conditions joined with AND.
func (w *Where) SQL() string { return strings.Join(w.conds, " AND ") }

// Args are the positional arguments, in placeholder order.
func (w *Where) Args() []any { return w.args }
