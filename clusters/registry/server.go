package registry

import (
	"context"
	"io"
	"net/http"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the storage driver Handler names
	"github.com/sirupsen/logrus"
)

// Config is the registry's configuration: in-memory storage (a run's images live as long as the
// run's registry), manifest deletion enabled (DELETE /v2/<name>/manifests/<digest>), no upload
// purging (nothing runs long enough to leave stale uploads), no authentication.
func Config() *configuration.Configuration {
	c := &configuration.Configuration{}
	c.Version = configuration.MajorMinorVersion(0, 1)
	c.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"delete":   configuration.Parameters{"enabled": true},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{"enabled": false},
		},
	}
	c.Log.Level = "error"
	c.Log.AccessLog.Disabled = true
	c.HTTP.Secret = "faultline-registry" // one replica: the secret only signs upload state
	return c
}

// Handler is the registry's HTTP API (/v2/...) with Config. Its storage lives until ctx ends.
func Handler(ctx context.Context) http.Handler {
	// distribution logs through logrus' standard logger; a run's registry reports errors only
	logrus.SetLevel(logrus.ErrorLevel)
	logrus.SetOutput(io.Discard)
	return handlers.NewApp(ctx, Config())
}
