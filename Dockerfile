# One image, four entry points (see k8s/): the API (default), the worker, the request
# consumer, and the release step (migrations and schema registration).
#   docker build -t report-pipeline:0.1.0 .
# BASE is any Debian bookworm image; ./dev passes the one it makes itself with debootstrap.
# Node.js and npm come from their npm registry packages (docker/install-node.sh pins them).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS node
COPY docker/install-node.sh /usr/local/bin/install-node
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl \
 && install-node

FROM node AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY avro ./avro
# Compiles src/ to dist/ and prebuilds the workflow bundle, so workers never bundle at start-up.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM ${BASE} AS runtime
COPY --from=node /opt/node/bin/node /usr/local/bin/node
# The image's own user, without a shell login or write access to the application.
RUN useradd --system --no-create-home --shell /usr/sbin/nologin node
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js \
    HTTP_PORT=3000 \
    OPS_PORT=9090
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/avro ./avro
COPY --from=build /app/src/http/page ./src/http/page
USER node
EXPOSE 3000 9090
# The worker and the consumer serve /ready on OPS_PORT, the API on HTTP_PORT.
HEALTHCHECK --interval=2s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const ready = (port) => fetch(`http://127.0.0.1:${port}/ready`); ready(process.env.OPS_PORT).catch(() => ready(process.env.HTTP_PORT)).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--disable-warning=TimeoutNegativeWarning"]
CMD ["dist/http/main.js"]
