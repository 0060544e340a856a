#!/bin/bash
# A procedure that fails the way a real one might: it prints what it tried
# and exits non-zero. `firedrill rehearse` must call it a no-go with this tail.
echo "copying $FIREDRILL_DATA_VOLUME to the new SAN"
echo "rsync: connection to san-c refused" >&2
exit 7
