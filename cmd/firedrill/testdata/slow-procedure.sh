#!/bin/bash
# A procedure that never ends, with a child of its own: `firedrill rehearse
# --timeout` must kill both and call it a no-go.
echo "copying the data volume, slowly"
sleep 600 &
echo "$!" >"$FIREDRILL_OUTPUT_DIR/child.pid"
wait
