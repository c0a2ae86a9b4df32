package grafana

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/fleetlab"
	"github.com/rulekeeper/rulekeeper/internal/testkit/promserver"
)

func renderPictures(t *testing.T, dir string, f *fleetlab.Fleet, got map[string]map[string][]promserver.Series) {
}
