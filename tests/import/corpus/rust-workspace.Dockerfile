# syntax=docker/dockerfile:1.4
ARG RUST_VERSION=1.79
ARG APP=indexer
FROM rust:${RUST_VERSION}-bookworm AS build
ARG APP
WORKDIR /ws
COPY --link Cargo.toml Cargo.lock ./
COPY --link crates/ crates/
RUN --mount=type=cache,target=/usr/local/cargo/registry,id=cargo-registry \
    --mount=type=cache,target=/ws/target,id=ws-target \
    cargo build --release -p "$APP" && cp "target/release/$APP" /usr/local/bin/app

FROM debian:bookworm-slim
ARG APP
ENV APP_NAME=${APP} RUST_LOG=info
COPY --link --from=build /usr/local/bin/app /usr/local/bin/app
WORKDIR /data
VOLUME ["/data"]
CMD ["/usr/local/bin/app", "--data", "/data"]
