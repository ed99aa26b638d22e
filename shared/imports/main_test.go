package imports_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
