FROM eclipse-temurin:21-jdk-alpine AS jre
RUN $JAVA_HOME/bin/jlink \
    --add-modules java.base,java.logging,java.net.http \
    --strip-debug --no-man-pages --no-header-files --compress=2 \
    --output /javaruntime

FROM eclipse-temurin:21-jdk-alpine AS app
WORKDIR /src
COPY . .
RUN ./gradlew --no-daemon installDist

FROM alpine:3.20
ENV JAVA_HOME=/opt/java/openjdk
ENV PATH="${JAVA_HOME}/bin:${PATH}"
COPY --from=jre /javaruntime $JAVA_HOME
COPY --from=app /src/build/install/app /opt/app
CMD ["/opt/app/bin/app"]
