# syntax=docker/dockerfile:1.4
FROM rust:1.79 AS build
WORKDIR /src
COPY . .
RUN <<EOF
set -eux
cargo build --release
strip target/release/tool
install -D target/release/tool /out/tool
EOF

FROM debian:bookworm-slim
COPY <<EOF /etc/tool/config.toml
[server]
listen = "0.0.0.0:9000"
EOF
COPY --from=build /out/tool /usr/bin/tool
CMD ["tool", "--config", "/etc/tool/config.toml"]
