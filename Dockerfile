# gitops-promote as a container image: the CLI for other CI systems, and `uses: docker://ghcr.io/<owner>/
# gitops-promote@sha256:…` for Linux workflows that want a container step. The action itself (action.yml) does
# not build or pull this: it downloads the release binary (action/main.js). release.yml publishes this image
# for linux/amd64 and linux/arm64.
#
# Not buildable on the development machines (no container engine there): `scripts/test.sh` lints it with
# hadolint, and release.yml builds it. The base digests are the published multi-platform index digests of the
# tags in the comments, as found pinned in public repositories; they could not be resolved against Docker Hub
# from the development machines. Refresh both together (`docker buildx imagetools inspect rust:1.95.0-alpine3.23`).

# Build: a static binary. Alpine's Rust targets musl and links statically (crt-static); TLS is rustls (git's
# https too, see src/git/http.rs), so there is no OpenSSL to build and the binary needs no shared library at
# all (the release workflow builds the Linux release binaries the same way).
# rust:1.95.0-alpine3.23
FROM rust:1.95.0-alpine3.23@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2 AS build
# The C parts (libgit2, zlib, aws-lc) need only the musl headers beside the image's gcc. Package versions: see
# the run stage.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin gitops-promote \
 && cp target/release/gitops-promote /gitops-promote

# Run: git and CA certificates only.
# alpine:3.23.3
FROM alpine:3.23.3@sha256:25109184c71bdad752c8312a8623239686a9a2071e8825f20acb8f2198c3f659
# The Actions workspace is mounted from the runner and owned by another user: libgit2 (and git) refuse a
# repository they don't own unless it is trusted. Package versions are not pinned (DL3018): an Alpine branch
# keeps only the newest build of each package, so a pin breaks the build at the next security update; the
# base image digest pins the branch.
# hadolint ignore=DL3018
RUN apk add --no-cache git ca-certificates \
 && git config --system --add safe.directory /github/workspace
COPY --from=build /gitops-promote /usr/local/bin/gitops-promote
RUN ["/usr/local/bin/gitops-promote", "--version"]
ENTRYPOINT ["/usr/local/bin/gitops-promote"]
