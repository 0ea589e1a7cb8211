// Package platform is `faultline platform run`: the platform under test (package platform) as a
// process against a real cluster, the binary the Deployment in platform/deploy runs.
package platform

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/platform/kube"
)

type flags struct {
	kubeconfig  string
	config      string
	metricsAddr string
	webhookAddr string
	cert, key   string
	verbose     bool
}

// NewCommand returns the platform verb.
func NewCommand(s cli.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Run faultline's platform (cron scheduler, placement webhook) against a real cluster",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(runCommand(s))
	return cmd
}

func runCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the platform's components until interrupted",
		Long: `run starts the components the configuration file enables (the shape of a scenario's
spec.platform): the cron scheduler for CronJobs annotated platform.faultline.dev/cron: "true"
with spec.suspend: true, Lyft's cron metrics on /metrics, and the placement spreading webhook
over TLS (register it with platform/deploy/webhook.yaml). When it listens it prints one line:
"ready metrics=ADDR webhook=ADDR".`,
		Example: `  faultline platform run --kubeconfig ~/.local/state/faultline/clusters/faultline/kubeconfig \
    --config platform.yaml --metrics-addr 127.0.0.1:9090 \
    --webhook-addr 127.0.0.1:9443 --tls-cert tls.crt --tls-key tls.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := kube.LoadConfig(f.config)
			if err != nil {
				return cli.BadInput(err)
			}
			rc, err := kube.RESTConfig(f.kubeconfig)
			if err != nil {
				return cli.BadInput(err)
			}
			level := slog.LevelWarn
			if f.verbose {
				level = slog.LevelInfo
			}
			err = kube.Run(cmd.Context(), cfg, rc, kube.Options{
				MetricsAddr: f.metricsAddr, WebhookAddr: f.webhookAddr, CertFile: f.cert, KeyFile: f.key,
				Logger: slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level})),
				Ready: func(m, w string) {
					fmt.Fprintf(s.Out, "ready metrics=%s webhook=%s\n", m, w)
				},
			})
			if err != nil && cmd.Context().Err() == nil {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else in-cluster)")
	fl.StringVar(&f.config, "config", "", "platform configuration file (YAML: cron, placement)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "127.0.0.1:9090", "address of /metrics and /healthz")
	fl.StringVar(&f.webhookAddr, "webhook-addr", "", "address of the TLS webhook server (empty: no webhook)")
	fl.StringVar(&f.cert, "tls-cert", "", "webhook serving certificate (PEM)")
	fl.StringVar(&f.key, "tls-key", "", "webhook serving key (PEM)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every decision")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
