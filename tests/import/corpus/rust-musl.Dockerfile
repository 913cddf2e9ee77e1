FROM rust:1.79-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /build
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --target x86_64-unknown-linux-musl && \
    cp target/x86_64-unknown-linux-musl/release/svc /svc

FROM scratch
COPY --from=build /svc /svc
EXPOSE 3000/tcp
ENTRYPOINT ["/svc"]
