FROM node:20 AS build
WORKDIR /src
COPY package*.json ./
RUN npm install
COPY . .
RUN npm test && npm run build

FROM node:20-slim
WORKDIR /srv
COPY --from=build /src/build/ ./build/
COPY --from=build /src/package.json ./
RUN npm install --omit=dev
ENV PORT=8080
CMD node build/index.js --port $PORT
