# syntax=docker/dockerfile:1.10
FROM golang:1.22 AS deps
WORKDIR /src
ENV GOPRIVATE=git.example.com/*
COPY go.mod go.sum ./
RUN --mount=type=secret,id=netrc,target=/root/.netrc \
    --mount=type=ssh \
    --mount=type=cache,target=/go/pkg/mod,sharing=locked \
    go mod download

FROM deps AS build
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod,sharing=locked \
    --mount=type=secret,id=token,env=GITHUB_TOKEN \
    CGO_ENABLED=0 go build -o /out/worker ./cmd/worker

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 worker
COPY --from=build --chown=10001:10001 /out/worker /usr/local/bin/worker
USER 10001
STOPSIGNAL SIGINT
CMD ["worker"]
