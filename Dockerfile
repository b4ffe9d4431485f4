# rackboot as an OCI image: the npm package (`npm pack`, the same files an npm install gets) on
# Debian's Node 20. Build: docker build -t rackboot .   Run (host networking: DHCP and TFTP need the
# provisioning network's broadcasts and source addresses): see docs/container.md.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles from source where no prebuilt binary matches
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json README.md LICENSE ./
COPY server ./server
COPY boot-templates ./boot-templates
COPY menus ./menus
COPY cloud-configs ./cloud-configs
COPY schema ./schema
COPY scripts ./scripts
COPY deploy ./deploy
COPY docs ./docs
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && npm install --global --prefix /opt/rackboot --omit=dev /tmp/rackboot-*.tgz

FROM node:20-bookworm-slim
# ipxe: the iPXE binaries (undionly.kpxe, snponly.efi, ipxe.efi) in /usr/lib/ipxe for tftp.root
RUN apt-get update && apt-get install -y --no-install-recommends ipxe && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/rackboot/lib/node_modules/rackboot /opt/rackboot
ENV NODE_ENV=production RACKBOOT_CONFIG=/etc/rackboot/rackboot.yaml
VOLUME ["/var/lib/rackboot", "/srv/rackboot/assets"]
WORKDIR /var/lib/rackboot
ENTRYPOINT ["node", "/opt/rackboot/dist/server/cli/index.js"]
CMD ["serve"]
