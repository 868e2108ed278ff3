#!/bin/sh
# The dev server on all interfaces, with the namespace and the custom search attributes the
# report workflow sets (so runs can be listed by stage, requester and idempotency key).
set -eu
exec temporal server start-dev --ip 0.0.0.0 --ui-ip 0.0.0.0 --log-level warn \
  --namespace "$TEMPORAL_NAMESPACE" \
  --search-attribute ReportStage=Keyword \
  --search-attribute RequesterId=Keyword \
  --search-attribute IdempotencyKey=Keyword \
  "$@"
