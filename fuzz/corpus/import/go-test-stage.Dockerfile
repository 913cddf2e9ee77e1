FROM golang:1.21 AS base
WORKDIR /workspace
ENV CGO_ENABLED=0 GOFLAGS=-mod=vendor
COPY go.mod go.sum ./
COPY vendor/ vendor/
COPY internal/ internal/
COPY main.go ./

FROM base AS test
RUN go vet ./... && go test ./...

FROM base AS build
ARG VERSION=dev
RUN go build -ldflags "-X main.version=${VERSION}" -o /workspace/bin/app .

FROM alpine:3.19 AS runtime
LABEL org.opencontainers.image.source="https://example.com/app" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /workspace/bin/app /app
HEALTHCHECK --interval=10s --timeout=2s --retries=5 CMD ["/app", "health"]
CMD ["/app"]
