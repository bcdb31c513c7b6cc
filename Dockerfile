# The action's container. GitHub builds it on first use (`runs.image: Dockerfile` in action.yml); a release
# workflow may instead publish it and pin action.yml to the image digest.
# Not buildable on the development machines (no container engine there); CI lints it.
FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin gitops-promote

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/gitops-promote /usr/local/bin/gitops-promote
ENTRYPOINT ["/usr/local/bin/gitops-promote"]
