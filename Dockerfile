# The gateway as a container: compiled once in a build stage, run as an unprivileged user on
# Node 20 with production settings. Needs DATABASE_URL, TOKEN_SECRET and SIGNING_KEY at run time
# (`npx audit-gateway secrets` makes the two secrets); see compose.yaml for a gateway + Postgres.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
# npm ci runs the postgres.js patch (postinstall) and the TypeScript build (prepare); pruning keeps
# the patched driver and drops the compiler and test tools.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/drizzle ./drizzle
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve"]
