# Kiln FHIR server image: build the TypeScript, then run it on Node 22 LTS.
# .ci/dockerfile-check runs the build stage's steps, and starts the result, without Docker.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# .npmrc sets legacy-peer-deps, without which npm refuses the lock file. Scripts wait until the
# sources are here (the prepare script builds them).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
COPY resources ./resources
COPY conformance ./conformance
COPY subscriptions ./subscriptions
COPY bench ./bench
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim
ENV NODE_ENV=production PORT=8080 KILN_DATA_DIR=/data KILN_AUDIT_JOURNAL_DIR=/var/lib/kiln/audit-journal
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data /var/lib/kiln/audit-journal && chown -R node:node /data /var/lib/kiln
USER node
# 8080: the FHIR API; 1883: Kiln's own MQTT broker (when KILN_MQTT_URL names none).
EXPOSE 8080 1883
VOLUME ["/data", "/var/lib/kiln/audit-journal"]
# A first start, or one that waits for Postgres, may take longer than the checks alone allow.
HEALTHCHECK --interval=10s --timeout=3s --start-period=90s --retries=5 CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server/main.js"]
