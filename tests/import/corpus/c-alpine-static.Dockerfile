FROM alpine:3.20 AS build
RUN apk add --no-cache build-base
WORKDIR /work
COPY hello.c .
RUN gcc -static -Os -o hello hello.c && strip hello

FROM scratch
COPY --from=build /work/hello /hello
CMD ["/hello"]
