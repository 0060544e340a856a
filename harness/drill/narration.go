package drill

import (
	"fmt"
	"strings"
)

// narration returns what to say before a step: a title and a paragraph in
// plain words for the people watching.
func (st Step) narration(sc Scenario) (title, what string) {
	var names []string
	for _, f := range st.Faults {
		names = append(names, f.String())
	}
	switch st.Do {
	case Populate:
		title = "Fill the service with its users' old data"
		what = fmt.Sprintf("Most of a service's data is old and at rest: the users beyond the profile's active share get their accounts, contacts, calendars, notes, photos and high scores imported in bulk through the sync server's own import (profile %s). Every item is entered in the ledger before its batch is sent, and acknowledged when the batch commits.", sc.Profile)
	case Load:
		title = "Phones sync their users' data"
		what = fmt.Sprintf("Every user's phones write contacts, events, to-dos, notes, photos and high scores (profile %s). Each write is entered in the ledger before it is sent and again when the service answers.", sc.Profile)
		if !st.Users.all() {
			from, to := st.Users.bounds()
			what = fmt.Sprintf("The phones of the users from %.0f%% to %.0f%% of the accounts write contacts, events, to-dos, notes, photos and high scores (profile %s). Each write is entered in the ledger before it is sent and again when the service answers.", from*100, to*100, sc.Profile)
		}
		if len(names) > 0 {
			what += " During the load: " + strings.Join(names, ", ") + ", each once a seeded share of the planned writes is done."
		}
	case BaseBackup:
		title, what = "Take a backup", fmt.Sprintf("The %s strategy takes a backup now.", sc.Backup)
	case RestorePoint:
		title, what = "Mark a restore point", fmt.Sprintf("Name this moment %q in the write-ahead log, so that a restore can stop exactly here.", st.Name)
	case Inject:
		title, what = "Inject the failure", "Now: "+strings.Join(names, ", ")+". The ledger is saved to disk first, so nothing it knows is lost."
	case Recover:
		title, what = "Recover", "Undo what can be undone: restart, reconnect, remove network faults."
	case Check:
		title, what = "Check the service before any fault", "Read back every user whose phones wrote, and compare with what the server acknowledged. Nothing has gone wrong yet: whatever differs now is the server's own doing, and the verdict will say so."
	case Observe:
		title, what = "Look at the service", "Read users' data back from the damaged service, as their phones would now, for a few seconds at most."
	case Disaster:
		domains := []string{}
		for _, f := range st.Faults {
			domains = append(domains, f.Target)
		}
		if len(domains) == 0 {
			domains = []string{"san-a"}
		}
		title = "Declare the disaster"
		what = fmt.Sprintf("The primary's storage (failure domain %s) is declared lost: every volume in it is destroyed, the database and anything kept beside it. The ledger is saved to disk first.", strings.Join(domains, " and "))
	case Restore:
		target := "the latest point the backups reach"
		if st.Name != "" {
			target = fmt.Sprintf("the restore point %q", st.Name)
		}
		title, what = "Restore into a fresh stack", fmt.Sprintf("Build a new network and new volumes, verify the backups, restore the newest good one and replay WAL to %s, then start the sync service on it.", target)
	case ResetPhones:
		title, what = "Users reset their phones", "While the service is down, every user factory-resets their phone: the local copy of their contacts, calendars, notes and photos is wiped. The phones were only caches; the data now lives only in the service and its backups."
	case ResyncPhones:
		title, what = "Phones sync again", "Every phone signs in to the restored service and downloads everything its user has, as a freshly set-up phone does."
	case ProveBackup:
		touches := st.Touches
		if len(touches) == 0 {
			touches = []string{TouchesData}
		}
		title = "Prove the way back"
		what = fmt.Sprintf("Before the procedure runs: check that the newest backup lives outside what the procedure touches (%s), restore it into a fresh side stack, verify every user who has written against the ledger, and remove the side stack. No proven backup, no rehearsal.", strings.Join(touches, ", "))
	case Verify:
		title, what = "Verify every user", "Read every user's data back through CardDAV, CalDAV and WebDAV, and compare it item by item with the ledger."
	}
	if st.Say != "" {
		what = st.Say
	}
	return title, what
}
