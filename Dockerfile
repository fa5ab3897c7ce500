# Kiln FHIR server image: build the TypeScript, then run it on Node 22 LTS.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
COPY resources ./resources
COPY conformance ./conformance
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production PORT=8080 KILN_DATA_DIR=/data KILN_AUDIT_JOURNAL_DIR=/var/lib/kiln/audit-journal
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data /var/lib/kiln/audit-journal && chown -R node:node /data /var/lib/kiln
USER node
EXPOSE 8080
VOLUME ["/data", "/var/lib/kiln/audit-journal"]
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server/main.js"]
