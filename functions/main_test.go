package functions_test

import (
	"testing"

	_ "github.com/ledgerline/ledgerline"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
