# escape=`
FROM gcc:13 AS build
WORKDIR C:/src
COPY main.c .
RUN gcc -O2 -o /usr/local/bin/calc main.c `
    -lm

FROM debian:bookworm-slim
COPY --from=build /usr/local/bin/calc /usr/local/bin/calc
CMD ["calc"]
