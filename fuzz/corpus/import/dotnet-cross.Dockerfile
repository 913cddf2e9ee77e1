# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:8.0-alpine AS build
ARG TARGETARCH
WORKDIR /src
COPY --link Worker/*.csproj Worker/
RUN dotnet restore -a $TARGETARCH Worker/Worker.csproj
COPY --link Worker/ Worker/
RUN dotnet publish -a $TARGETARCH --no-restore -o /app Worker/Worker.csproj

FROM mcr.microsoft.com/dotnet/runtime:8.0-alpine
WORKDIR /app
COPY --link --from=build /app .
USER $APP_UID
ENTRYPOINT ["./Worker"]
