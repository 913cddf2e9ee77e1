FROM ubuntu:24.04 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y autoconf automake libtool make gcc
WORKDIR /usr/src/lib
ADD . .
RUN ./autogen.sh && ./configure --prefix=/usr/local && make -j"$(nproc)" && make install DESTDIR=/staging

FROM ubuntu:24.04
COPY --from=build /staging/usr/local/ /usr/local/
RUN ldconfig
ONBUILD COPY plugin.so /usr/local/lib/plugins/
CMD ["lib-tool", "--version"]
