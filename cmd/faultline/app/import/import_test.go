package importcmd_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	err := app.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	if err != nil {
		errb.WriteString(err.Error())
	}
	return cli.Code(err), out.String(), errb.String()
}

func TestImportFilesCheckValidateRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	code, out, errs := run("import", "../../../../clusters/importer/testdata", "-o", dir, "--check")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "shop: shop, 7 nodes in 3 pools")
	assert.Regexp(t, `total\s+11\s+11`, out)
	assert.Contains(t, out, "Kolmogorov-Smirnov distance")

	code, out, errs = run("validate", dir, filepath.Join(dir, "what-ifs.yaml"))
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "variants: [baseline down-zone-a down-zone-b lose-2-nodes load-plus-50]")
	code, _, errs = run("run", dir, "--seeds", "2", "-q", "--out", filepath.Join(t.TempDir(), "run"))
	require.Equal(t, 0, code, errs)

	code, _, errs = run("import", "../../../../clusters/importer/testdata", "-o", dir)
	assert.Equal(t, cli.ExitBadInput, code)
	assert.Contains(t, errs, "--force overwrites it")
	code, _, errs = run("import", "x.yaml", "--context", "c", "-o", dir)
	assert.Equal(t, cli.ExitBadInput, code)
	assert.Contains(t, errs, "not both")
}
