#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu). The autograder zip is
# unpacked to /autograder/source: the course itself, with this file and run_autograder at its root.
set -euo pipefail

apt-get update
# Node.js 24 (the course's runtime) and redis-server (Gradescope's image has no Docker; the test kit
# starts the redis-server it finds on PATH).
apt-get install -y ca-certificates curl gnupg redis-server unzip
curl -fsSL https://deb.nodesource.com/setup_24.x | bash -
apt-get install -y nodejs

cd /autograder/source
npm ci --no-audit --no-fund
