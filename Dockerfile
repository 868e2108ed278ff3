# One image, four entry points (see k8s/): the API (default), the worker, the request
# consumer, and the release step (migrations and schema registration).
#   docker build -t report-pipeline:latest .
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY avro ./avro
# Compiles src/ to dist/ and prebuilds the workflow bundle, so workers never bundle at start-up.
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
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
# The image's own user, without a shell login or write access to the application.
USER node
EXPOSE 3000 9090
ENTRYPOINT ["node", "--disable-warning=TimeoutNegativeWarning"]
CMD ["dist/http/main.js"]
