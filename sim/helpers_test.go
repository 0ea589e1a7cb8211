package sim

import "fmt"

func fmtSscanf(stamp string, d, h, m, s, ms *int) (int, error) {
	return fmt.Sscanf(stamp, "+%02dd%02d:%02d:%02d.%03d", d, h, m, s, ms)
}
