package fault_test

import (
	"os"
	"testing"

	"github.com/firedrill/firedrill/harness/stack/stacktest"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }
