FROM python:3.11 AS builder
ENV POETRY_VERSION=1.8.3 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_NO_INTERACTION=1
RUN pip install "poetry==$POETRY_VERSION"
WORKDIR /code
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install --only main --no-root
COPY src ./src
RUN poetry install --only main

FROM python:3.11-slim AS runtime
ENV VIRTUAL_ENV=/code/.venv \
    PATH="/code/.venv/bin:$PATH"
COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}
COPY --from=builder /code/src /code/src
WORKDIR /code
ENTRYPOINT ["python", "-m", "service"]
