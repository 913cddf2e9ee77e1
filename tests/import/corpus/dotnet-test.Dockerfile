FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build
WORKDIR /src
COPY ["Api/Api.csproj", "Api/"]
COPY ["Api.Tests/Api.Tests.csproj", "Api.Tests/"]
RUN dotnet restore "Api.Tests/Api.Tests.csproj"
COPY . .

FROM build AS test
RUN dotnet test "Api.Tests/Api.Tests.csproj" --no-restore

FROM build AS publish
RUN dotnet publish "Api/Api.csproj" -c Release -o /app/publish /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:8.0 AS final
WORKDIR /app
COPY --from=publish /app/publish .
ENTRYPOINT ["dotnet", "Api.dll"]
