# Callwarden service image. The Vosk model is fetched at build time (official download, else Maven Central).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CALLWARDEN_CACHE=/opt/callwarden/models \
    CALLWARDEN_DATA_DIR=/var/lib/callwarden \
    CALLWARDEN_HOST=0.0.0.0 CALLWARDEN_PORT=8080

RUN apt-get update \
 && apt-get install -y --no-install-recommends maven libsndfile1 sox gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/callwarden/src
COPY pyproject.toml README.md ./
COPY rules ./rules
COPY streams ./streams
COPY monitor ./monitor
COPY evaluation ./evaluation
# The rules engine is compiled with mypyc in the installed package (monitor/native.py; about twice as fast).
RUN pip install --no-cache-dir . mypy \
 && callwarden native build \
 && pip uninstall -y mypy \
 && apt-get purge -y gcc libc6-dev && apt-get autoremove -y \
 && callwarden native status \
 && callwarden model fetch --source auto \
 && rm -rf /root/.m2

RUN useradd --system --uid 10001 --home /var/lib/callwarden callwarden \
 && mkdir -p /var/lib/callwarden && chown callwarden /var/lib/callwarden
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
ENTRYPOINT ["callwarden"]
CMD ["serve"]
