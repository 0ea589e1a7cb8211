package placement

import (
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/api/resource"
)

type resourceQuantity = resource.Quantity

func newQuantity() *resource.Quantity { return resource.NewMilliQuantity(0, resource.DecimalSI) }

// ApplyPatch applies RFC 6902 operations to a JSON document.
func ApplyPatch(doc []byte, ops []PatchOp) ([]byte, error) {
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("apply patch: %w", err)
	}
	return out, nil
}
