ARG PYTHON_VERSION=3.12
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements/ requirements/
RUN pip install --prefix=/install -r requirements/production.txt

FROM python:${PYTHON_VERSION}-slim AS final
COPY --from=build /install /usr/local
WORKDIR /srv/site
COPY manage.py ./
COPY site/ site/
RUN python manage.py collectstatic --noinput
RUN useradd -m django
USER django
EXPOSE 8000
HEALTHCHECK --interval=30s --start-period=20s CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8000/health')"
CMD ["gunicorn", "site.wsgi", "--bind", "0.0.0.0:8000"]
