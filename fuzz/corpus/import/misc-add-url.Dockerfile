FROM alpine:3.20 AS fetch
ADD https://example.com/releases/tool-1.2.3.tar.gz /tmp/tool.tar.gz
ADD vendor.tar.gz /opt/vendor/
RUN mkdir -p /out && tar -xzf /tmp/tool.tar.gz -C /out

FROM alpine:3.20
MAINTAINER ops@example.com
COPY --from=fetch /out/ /usr/local/bin/
COPY --from=nginx:1.27-alpine /etc/nginx/nginx.conf /etc/nginx/nginx.conf
CMD ["tool"]
