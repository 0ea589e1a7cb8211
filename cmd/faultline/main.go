// Command faultline replays Kubernetes incidents in a deterministic simulator (and, later, in
// real clusters) and scores which mitigation really helps. See README.md.
package main

import "github.com/faultline-dev/faultline/cmd/faultline/app"

func main() { app.Main() }
