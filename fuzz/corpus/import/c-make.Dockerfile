FROM gcc:13 AS build
WORKDIR /src
COPY Makefile ./
COPY src/ src/
RUN make CFLAGS="-O2 -static" && make install PREFIX=/out

FROM busybox:1.36
COPY --from=build /out/bin/tiny /bin/tiny
ENTRYPOINT ["/bin/tiny"]
