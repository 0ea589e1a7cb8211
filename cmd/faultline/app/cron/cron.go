// Package cron is `faultline cron trigger NAME`: an on-demand run of a CronJob, like `kubectl
// create job --from=cronjob/NAME`, made by the platform's scheduler code (T1 annotation, the
// platform's labels, the app's image resolved when the platform resolves images).
package cron

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	pcron "github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/kube"
	"github.com/faultline-dev/faultline/platform/placement"
)

// NewCommand returns the cron verb.
func NewCommand(s cli.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cron",
		Short: "Operate the CronJobs of faultline's platform scheduler",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(triggerCommand(s))
	return cmd
}

func triggerCommand(s cli.Streams) *cobra.Command {
	var kubeconfig, namespace, config string
	cmd := &cobra.Command{
		Use:   "trigger NAME",
		Short: "Run a CronJob now, outside its schedule",
		Long: `trigger creates a Job from the CronJob NAME's jobTemplate now, as
'kubectl create job --from=cronjob/NAME' does, with the platform's labels and its T1 annotation
(the trigger time) and platform.faultline.dev/trigger: manual. With --config, a CronJob bound to
an app (platform.faultline.dev/app) gets the app's image resolved as scheduled runs do.`,
		Example: `  faultline cron trigger nightly-report -n reports --kubeconfig kubeconfig`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := kube.RESTConfig(kubeconfig)
			if err != nil {
				return cli.BadInput(err)
			}
			cs, err := kubernetesClient(rc)
			if err != nil {
				return err
			}
			var opts []pcron.Option
			if config != "" {
				pc, err := kube.LoadConfig(config)
				if err != nil {
					return cli.BadInput(err)
				}
				if p := pc.Placement; p != nil && p.Consolidation != nil {
					opts = append(opts, pcron.WithImageResolver(placement.Resolver{Config: *p.Consolidation}))
				}
			}
			ctrl := pcron.NewController(pcron.Config{}, &kube.Client{CS: cs}, pcron.NewMetrics(prometheus.NewRegistry()), opts...)
			j, err := ctrl.Trigger(cmd.Context(), namespace, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "job.batch/%s created\n", j.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else in-cluster)")
	fl.StringVarP(&namespace, "namespace", "n", "default", "namespace of the CronJob")
	fl.StringVar(&config, "config", "", "platform configuration file, for image resolution")
	return cmd
}
