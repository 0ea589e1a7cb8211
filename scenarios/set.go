package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// Set returns a copy of the scenario with one value changed before any variant is applied, so
// every variant sees it. Sweeps use it. path is either
//
//   - spec.FIELD.PATH, e.g. spec.cluster.nodePools[0].count or
//     spec.cluster.models.kernelPanic.meanTimeToPanic or spec.load[0].cpuPerReplica, or
//   - KIND/NAME:FIELD.PATH for a manifest, e.g. deployment/web:spec.replicas; a map key with
//     dots or slashes goes in quoted brackets:
//     cronjob/report:metadata.annotations["platform.faultline.dev/cron"].
//
// value is JSON (a number, a quoted string, an object); a bare word that is not JSON is taken as
// a string, so 20m and "20m" are the same. The result is validated like a loaded file.
func (s *Scenario) Set(path string, value string) (*Scenario, error) {
	v := json.RawMessage(value)
	if !json.Valid(v) {
		b, _ := json.Marshal(value)
		v = b
	}
	// KIND/NAME:FIELD; a colon inside a quoted key (["a:b"]) does not count
	if target, field, ok := strings.Cut(path, ":"); ok && !strings.ContainsAny(target, "[\"'") {
		return s.setObject(target, field, v)
	}
	field, ok := strings.CutPrefix(path, "spec.")
	if !ok {
		return nil, fmt.Errorf("%s: set %q: expected spec.FIELD or KIND/NAME:FIELD", s.File, path)
	}
	ptr, err := pointer(field)
	if err != nil {
		return nil, fmt.Errorf("%s: set %q: %v", s.File, path, err)
	}
	if strings.HasPrefix(ptr, "/objects") {
		return nil, fmt.Errorf("%s: set %q: objects are set by KIND/NAME:FIELD", s.File, path)
	}
	orig, err := json.Marshal(s.Spec.Spec)
	if err != nil {
		return nil, err
	}
	out, err := replaceOrAdd(orig, ptr, v)
	if err != nil {
		return nil, fmt.Errorf("%s: set %q: %w", s.File, path, err)
	}
	var spec Spec
	if err := strictJSON(out, &spec); err != nil {
		return nil, fmt.Errorf("%s: set %q=%s: %v", s.File, path, value, err)
	}
	return s.withSpec(spec)
}

func (s *Scenario) setObject(target, field string, v json.RawMessage) (*Scenario, error) {
	idx, err := findObject(s.Objects, target)
	if err != nil {
		return nil, fmt.Errorf("%s: set %s: %v", s.File, target, err)
	}
	ptr, err := pointer(field)
	if err != nil {
		return nil, fmt.Errorf("%s: set %s:%s: %v", s.File, target, field, err)
	}
	o := s.Objects[idx]
	out, err := replaceOrAdd(o.JSON, ptr, v)
	if err != nil {
		return nil, fmt.Errorf("%s: set %s:%s: %w", s.File, target, field, err)
	}
	patched, err := patchObject(o, Patch{Type: "merge", Patch: out})
	if err != nil {
		return nil, fmt.Errorf("%s: set %s:%s: %v", s.File, target, field, err)
	}
	c := *s
	c.Objects = append([]Object(nil), s.Objects...)
	c.Objects[idx] = patched
	return c.withSpec(c.Spec.Spec)
}

// withSpec revalidates a copy of the scenario with spec in place of its own.
func (s *Scenario) withSpec(spec Spec) (*Scenario, error) {
	c := *s
	c.Spec.Spec = spec
	c.root = nil // positions belong to the file as written
	if err := c.checkHeader(); err != nil {
		return nil, err
	}
	faults, err := c.decodeFaults(spec.Faults, nil, "spec.faults")
	if err != nil {
		return nil, err
	}
	c.Faults = faults
	if !slices.Equal(spec.RuleFiles, s.Spec.Spec.RuleFiles) {
		if err := c.reloadRules(s); err != nil {
			return nil, err
		}
	}
	if err := c.checkObjectives(); err != nil {
		return nil, err
	}
	if err := c.checkVariants(); err != nil {
		return nil, err
	}
	return &c, nil
}

// reloadRules reads the alerting rules of a changed spec.ruleFiles (next to the scenario, as a
// loaded file's) and folds the files into the digest, so that a run with other rules never
// passes for one of the file as written.
func (s *Scenario) reloadRules(orig *Scenario) error {
	if s.fsys == nil {
		return fmt.Errorf("%s: set spec.ruleFiles: the scenario was not loaded from a folder; expected one holding the rule files", s.File)
	}
	s.Alerts = nil
	h := sha256.New()
	h.Write([]byte(orig.Digest))
	if err := s.loadRules(s.dir, s.File, h); err != nil {
		return err
	}
	s.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return nil
}

// pointer turns a field path into a JSON pointer: a.b[2].c is /a/b/2/c, and a key that holds
// dots or slashes goes in quoted brackets, as in kubectl's JSONPath:
// metadata.annotations["platform.faultline.dev/cron"] is /metadata/annotations/platform.faultline.dev~1cron.
func pointer(field string) (string, error) {
	if field == "" {
		return "", fmt.Errorf("empty field path")
	}
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	var b strings.Builder
	rest := field
	first := true
	for rest != "" {
		if !first {
			// after a name or a bracket: another bracket, or a dot and a name
			if after, ok := strings.CutPrefix(rest, "."); ok {
				rest = after
				if rest == "" || rest[0] == '[' || rest[0] == '.' {
					return "", fmt.Errorf("bad field path %q: expected a name after the dot", field)
				}
			} else if rest[0] != '[' {
				return "", fmt.Errorf("bad field path %q: expected . or [ before %q", field, rest)
			}
		}
		first = false
		if rest[0] == '[' {
			inner, after, ok := strings.Cut(rest[1:], "]")
			if q := inner; len(q) > 0 && (q[0] == '"' || q[0] == '\'') {
				// a quoted key may hold ]: read up to the closing quote
				end := strings.IndexByte(rest[2:], q[0])
				if end < 0 || !strings.HasPrefix(rest[2+end+1:], "]") {
					return "", fmt.Errorf("bad key in %q: expected [\"KEY\"] or ['KEY']", field)
				}
				key := rest[2 : 2+end]
				if key == "" {
					return "", fmt.Errorf("bad key in %q: empty key", field)
				}
				b.WriteString("/" + esc.Replace(key))
				rest = rest[2+end+2:]
				continue
			}
			if _, err := strconv.Atoi(inner); !ok || err != nil || strings.HasPrefix(inner, "-") {
				return "", fmt.Errorf("bad index in %q: expected [N] or a quoted key", field)
			}
			b.WriteString("/" + inner)
			rest = after
			continue
		}
		n := strings.IndexAny(rest, ".[")
		if n < 0 {
			n = len(rest)
		}
		if n == 0 {
			return "", fmt.Errorf("bad field path %q", field)
		}
		b.WriteString("/" + esc.Replace(rest[:n]))
		rest = rest[n:]
	}
	return b.String(), nil
}

// ErrNoParent is what Set returns (wrapped) when a member's parent does not exist: Set changes or
// adds one member, it does not create the objects above it.
var ErrNoParent = errors.New("parents must exist")

// replaceOrAdd sets the value at ptr: replace when it exists, add (a new object member) otherwise.
func replaceOrAdd(doc []byte, ptr string, v json.RawMessage) ([]byte, error) {
	for _, op := range []string{"replace", "add"} {
		ops, _ := json.Marshal([]map[string]any{{"op": op, "path": ptr, "value": v}})
		p, err := jsonpatch.DecodePatch(ops)
		if err != nil {
			return nil, err
		}
		if out, err := p.Apply(doc); err == nil {
			return out, nil
		} else if op == "add" {
			return nil, fmt.Errorf("no field at %s (%w): %v", ptr, ErrNoParent, err)
		}
	}
	return nil, nil
}
