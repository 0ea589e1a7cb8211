// Package locate decodes faultline scenario YAML strictly and says where every problem is.
//
// sigs.k8s.io/yaml turns YAML into JSON before decoding, so its errors lose line numbers, and
// encoding/json errors from custom unmarshalers (resource.Quantity's "quantities must match the
// regular expression ...") carry no field path. This package parses with go.yaml.in/yaml/v3,
// which keeps positions, and walks the node tree alongside the Go type using encoding/json's
// rules for json struct tags (names, "-", inlined embedded structs, `json:",inline"`). Each
// problem comes back as an *Error that prints on one line as
//
//	FILE:LINE:COL: PATH: MSG
//
// for example
//
//	scenario.yaml:14:24: spec.template.spec.containers[0].resources.requests.cpu: invalid quantity "4 cores": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'
//
// The walk reports, in document order, the first of: YAML syntax errors; duplicate keys; unknown
// fields (with the closest known ones); values of the wrong kind ("expected an integer (int32),
// got string "three""); values that a type's UnmarshalJSON or UnmarshalText rejects (types that
// decode themselves, such as resource.Quantity, intstr.IntOrString, metav1.Time and
// runtime.RawExtension, get their subtree as JSON, as with encoding/json); and scalars that YAML
// would silently rewrite (see below). When the walk succeeds, the value it built is handed to
// encoding/json, so v ends up exactly as json.Unmarshal leaves it.
//
// # Compatibility with sigs.k8s.io/yaml
//
// A document this package accepts decodes to the same value as with sigs.k8s.io/yaml.Unmarshal
// (and UnmarshalStrict) v1.6, which parses with go.yaml.in/yaml/v2, that is YAML 1.1. Plain
// scalars are therefore typed by YAML 1.1 rules, not yaml v3's YAML 1.2 ones: y, yes, on and
// true (in their usual spellings: Yes, YES, On, ON, True, TRUE, and Y) are boolean true; n, no,
// off and false are false; 0x1F, 017 (octal) and 1_000 are integers. Where sigs.k8s.io/yaml
// would then quietly turn such a value into different text because the Go field is a string
// (`value: yes` becoming "true", `version: 1.10` becoming "1.1", `zip: 017` becoming "15"), or
// turn a mapping key into different text (`on:` becoming "true"), this package reports an
// "ambiguous value" or "ambiguous key" error asking to quote it instead. Values that keep their
// text (`name: 123`, `enabled: true`) are accepted as sigs.k8s.io/yaml accepts them, and into
// untyped fields (any, map[string]any) `yes` is boolean true, as there.
//
// This package is stricter than sigs.k8s.io/yaml in a few more ways: field names must match
// their json tag exactly (encoding/json would take "Replicas" for "replicas"); keys that become
// equal as JSON keys (1 and "1") are duplicates; a file may hold only one document. Merge keys
// (<<) follow the YAML merge spec: keys set in the mapping win over merged ones, and of several
// merged mappings the first wins (yaml v2's strict mode would reject any overlap).
//
// # Paths and positions
//
// Paths join keys with dots and put list indexes in brackets; a key that is not a plain word is
// quoted: spec.template.spec.containers[0].env[2].value, metadata.labels["app.kubernetes.io/name"].
// Node.Lookup and Node.Errorf take the same syntax, so problems found after decoding (validation)
// can be reported with the same precision. A problem with a key (unknown, duplicate) is reported
// at the key; a problem with a value at the value when it starts on its key's line, otherwise at
// the key.
//
// # Limitations
//
// Only the first problem is reported. YAML syntax errors carry a line but no column (yaml v3
// gives none). yaml v3 drops the non-specific tag "!", so `! 12` is read as the number 12, not the
// string "12". yaml v3 accepts a little valid YAML that yaml v2 rejects (a tab before a comment).
package locate
