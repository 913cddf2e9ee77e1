FROM python:3.12-alpine AS wheels
RUN apk add --no-cache build-base libffi-dev
WORKDIR /wheels
COPY requirements.txt /tmp/requirements.txt
RUN pip wheel --wheel-dir /wheels -r /tmp/requirements.txt

FROM python:3.12-alpine
COPY --from=wheels /wheels /wheels
RUN pip install --no-index --find-links=/wheels /wheels/*.whl && rm -rf /wheels
COPY --chmod=755 entrypoint.sh /usr/local/bin/entrypoint.sh
COPY worker.py /srv/worker.py
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["python", "/srv/worker.py"]
