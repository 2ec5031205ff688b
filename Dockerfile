# Wepos service image: CPU-only torch, models from PyPI packages, nothing downloaded at run time.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="" ANONYMIZED_TELEMETRY=False
WORKDIR /app
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY bot bot
COPY retrieval retrieval
COPY ingest ingest
COPY privacy privacy
COPY api api
COPY migrations migrations
COPY examples examples
RUN pip install .
RUN useradd --system --home /var/lib/wepos wepos && mkdir -p /var/lib/wepos && chown wepos /var/lib/wepos
USER wepos
EXPOSE 8000
CMD ["wepos", "serve", "--host", "0.0.0.0"]
