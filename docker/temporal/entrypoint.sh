#!/bin/sh
# The dev server on all interfaces, with the namespace and the custom search attributes the
# report workflow sets (so runs can be listed by stage, requester and idempotency key), and
# task queue priority and fairness switched on (the matcher that orders tasks by priority key,
# and weighted turns between fairness keys), as a production cluster needs them too (README).
# One partition per task queue: a single-node server gains nothing from more, and priority
# holds within a partition, so here it is exact.
set -eu
exec temporal server start-dev --ip 0.0.0.0 --ui-ip 0.0.0.0 --log-level warn \
  --namespace "$TEMPORAL_NAMESPACE" \
  --search-attribute ReportStage=Keyword \
  --search-attribute RequesterId=Keyword \
  --search-attribute IdempotencyKey=Keyword \
  --dynamic-config-value matching.useNewMatcher=true \
  --dynamic-config-value matching.enableFairness=true \
  --dynamic-config-value matching.numTaskqueueReadPartitions=1 \
  --dynamic-config-value matching.numTaskqueueWritePartitions=1 \
  "$@"
