package measure

// OmitTraffic marks every traffic indicator (those the KWOK world cannot measure because nothing
// there serves requests) as not measured, with why: for a real run whose load generator could
// not be read, and for a recording, which sends no traffic at all.
func OmitTraffic(omit map[string]string, why string) map[string]string {
	if omit == nil {
		omit = map[string]string{}
	}
	for _, d := range Indicators {
		if d.Unmeasurable[KWOK] == noTrafficKWOK {
			omit[d.Name] = why
		}
	}
	return omit
}
